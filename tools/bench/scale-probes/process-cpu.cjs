// Preloaded into every Node process of an nx command (NODE_OPTIONS="--require <this file>"):
// appends the process's script, its third argument (a plugin worker's plugin) and its CPU time
// to $PROCESS_CPU_LOG as it exits, also when Nx ends it with SIGTERM (its batch process).
const { appendFileSync } = require('node:fs');

let recorded = false;
function record() {
  if (recorded || !process.env.PROCESS_CPU_LOG) return;
  recorded = true;
  const u = process.cpuUsage();
  const line = {
    script: process.argv[1] ?? '',
    arg: process.argv[3] ?? '',
    cpuMs: Math.round((u.user + u.system) / 1000),
  };
  appendFileSync(process.env.PROCESS_CPU_LOG, `${JSON.stringify(line)}\n`);
}
process.on('exit', record);
process.once('SIGTERM', () => {
  record();
  process.exit(143);
});
