// CPU of the plugin's createNodes over every definition of the workspace it runs in, as Nx's
// plugin worker calls it. Run in a workspace with the plugin installed (tools/bench/scale.mjs
// with KEEP_WORKSPACE=1 leaves one): `node create-nodes-cpu.cjs cold` removes the plugin's cache
// first (.nx/workspace-data), `warm` keeps it.
const { readdirSync, readFileSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const root = process.cwd();
const requireHere = (id) => require(require.resolve(id, { paths: [root] }));
requireHere('nx/src/project-graph/plugins/utils'); // loaded by Nx's worker before the plugin
let t = cpu();
const plugin = requireHere('@catalyst/plugin');
const load = cpu() - t;
const files = readdirSync(join(root, 'apps')).flatMap((app) =>
  readdirSync(join(root, 'apps', app, 'workflows')).map((f) => `apps/${app}/workflows/${f}`),
);
const context = { workspaceRoot: root, nxJsonConfiguration: JSON.parse(readFileSync(join(root, 'nx.json'), 'utf8')) };
if (process.argv[2] === 'cold') rmSync(join(root, '.nx', 'workspace-data'), { recursive: true, force: true });
t = cpu();
plugin.createNodesV2[1](files, undefined, context).then((results) => {
  console.log(
    `${process.argv[2] ?? ''} load ${load.toFixed(0)} ms, createNodes ${(cpu() - t).toFixed(0)} ms CPU, ${results.length} projects`,
  );
});
