# The tiny app of the footprint, rebase and quick deploy benchmarks: an HTTP server in the
# run image's own perl (no buildpack downloads), one connection at a time, Connection: close.
use strict;
use warnings;
use IO::Socket::INET;
$| = 1;
my $port = $ENV{PORT} || 5000;
my $message = 'hello from the tiny slipway bench app';
my $started = time();
my $server = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $port, Listen => 128, ReuseAddr => 1) or die "listen on $port: $!";
$SIG{TERM} = sub { exit 0 };
print "listening on $port\n";
while (my $c = $server->accept) {
  $c->timeout(5);
  while (my $line = <$c>) { last if $line =~ /^\r?\n$/; }
  my $body = "$message (pid $$, up since $started, release " . ($ENV{BENCH_RELEASE} || 0) . ")\n";
  print $c "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
  close $c;
}
