import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;

/**
 * java CaStore.java BUNDLE.pem OUT: a PKCS12 trust store with every certificate of a PEM bundle
 * (Debian's ca-certificates-java does this in a maintainer script, which unpacked packages never run).
 */
public class CaStore {
  public static void main(String[] args) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    int i = 0;
    try (FileInputStream in = new FileInputStream(args[0])) {
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) ks.setCertificateEntry("ca-" + i++, c);
    }
    try (FileOutputStream out = new FileOutputStream(args[1])) {
      ks.store(out, "changeit".toCharArray());
    }
    System.out.println(i);
  }
}
