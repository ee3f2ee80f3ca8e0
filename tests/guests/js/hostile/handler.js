// A hostile JavaScript guest for the containment tests: what it does depends on the
// client's `mode` attribute. Each mode must end in a typed error of the host's limits,
// never in a hung or crashed node.
//
//   loop       spins forever                  -> deadline (or fuel)
//   recursion  recurses without end           -> the engine's stack limit, a trap
//   memory     allocates until refused        -> memory limit
//   output     returns a 100 kB claim         -> invalid output (too large)
//   throw      throws                         -> trap, the message in the log
//   pending    awaits a promise never settled -> trap: it cannot finish within the call

export async function onTokenIssuance(event, api) {
  const mode = event.subject.attributes.mode;
  if (mode === "loop") {
    let i = 0;
    for (;;) i = (i + 1) | 0;
  }
  if (mode === "recursion") {
    const deeper = (n) => deeper(n + 1) + 1;
    deeper(0);
  }
  if (mode === "memory") {
    const hoard = [];
    for (;;) hoard.push(new Uint8Array(4 << 20).fill(1, 0, 1));
  }
  if (mode === "output") {
    api.accessToken.setCustomClaim("huge", "x".repeat(100_000));
    return;
  }
  if (mode === "throw") {
    throw new Error("hostile guest threw on purpose");
  }
  if (mode === "pending") {
    await new Promise(() => {});
  }
  api.accessToken.setCustomClaim("mode", mode ?? "none");
}
