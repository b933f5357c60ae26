// CPU of the codegen batch executor over every service of the workspace it runs in, in one
// process: loading it, then compiling and writing all of them (what Nx's batch process does
// besides its own start-up). `git clean -fdXq apps` first for a cold run.
const { readdirSync } = require('node:fs');
const { join } = require('node:path');

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const root = process.cwd();
const requireHere = (id) => require(require.resolve(id, { paths: [root] }));
requireHere('nx/src/command-line/run/run');
let t = cpu();
const batch = requireHere('@catalyst/plugin/dist/executors/codegen/batch').default;
const load = cpu() - t;
const apps = readdirSync(join(root, 'apps')).sort();
const tasks = Object.fromEntries(
  apps.map((a) => [`${a}:codegen`, { id: `${a}:codegen`, target: { project: a, target: 'codegen' } }]),
);
const inputs = Object.fromEntries(apps.map((a) => [`${a}:codegen`, { packageName: a.replace(/-/g, '_') }]));
const projects = Object.fromEntries(apps.map((a) => [a, { root: `apps/${a}` }]));
(async () => {
  t = cpu();
  let ok = 0;
  for await (const { result } of batch({ tasks }, inputs, {}, { root, projectsConfigurations: { projects } })) {
    ok += result.success ? 1 : 0;
  }
  console.log(
    `load ${load.toFixed(0)} ms; compile and write ${apps.length} services ${(cpu() - t).toFixed(0)} ms CPU; ${ok} succeeded`,
  );
})();
