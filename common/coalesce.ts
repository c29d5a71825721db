/**
 * A task that runs now, or once more after the current run: calls made while it runs do not
 * start a second run beside it but ask for one more pass afterwards (which sees the newest state),
 * and every caller gets the promise of the run that covers its call. Used where many triggers
 * want the same idempotent work done (publishing the route table, the ACME worker's checks).
 *
 * `repeatWhile`: whether the pass asked for is still wanted (false: stop, e.g. shutting down).
 * `onSettled`: called once per run after its last pass, with the error that ended it (or
 * undefined); when given, the run's promise resolves instead of rejecting.
 */
export function coalesce(
  task: () => Promise<void>,
  options: { repeatWhile?: () => boolean; onSettled?: (err: unknown) => void } = {},
): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let failure: unknown;
      try {
        do {
          again = false;
          await task();
        } while (again && (options.repeatWhile?.() ?? true));
      } catch (err) {
        if (!options.onSettled) throw err;
        failure = err;
      } finally {
        running = undefined;
      }
      options.onSettled?.(failure);
    })();
    return running;
  };
}
