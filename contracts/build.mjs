// Compiles contracts/src/*.sol with the pinned solc-js (package-lock.json) through its
// standard-JSON interface and writes one artifact per contract:
//
//   <outDir>/<Name>.json  = { "abi": [...], "bytecode": "0x…", "deployedBytecode": "0x…" }
//   <outDir>/build-info.json = compiler version and the exact settings used
//
// Usage: node build.mjs <outDir>. Output is deterministic (sources and contracts in sorted order,
// two-space JSON, trailing newline), so scripts/contracts.sh check can byte-compare a fresh
// compile with the committed contracts/out. Any compiler warning fails the build.
//
// Settings, and why:
// - evmVersion "prague": revm 43 defaults to OSAKA, which runs Prague code; Prague is what the
//   Lux, Hanzo and Zoo EVMs run today, and it is solc 0.8.37's newest target before Osaka.
// - optimizer on, 200 runs: the usual trade-off between deployment and call cost.
// - metadata.bytecodeHash "none": the CBOR trailer keeps the compiler version but no IPFS hash
//   of the metadata, so editing a comment does not change deployed code.
import { createRequire } from "node:module";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const solc = require("solc");

export const SETTINGS = {
  evmVersion: "prague",
  optimizer: { enabled: true, runs: 200 },
  metadata: { bytecodeHash: "none" },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

const outDir = process.argv[2];
if (!outDir) {
  console.error("usage: node build.mjs <outDir>");
  process.exit(2);
}

const srcDir = join(here, "src");
const sources = {};
for (const file of readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[`src/${file}`] = { content: readFileSync(join(srcDir, file), "utf8") };
}

const input = { language: "Solidity", sources, settings: SETTINGS };
let raw = solc.compile(JSON.stringify(input));
// The solcjs command line prints one status line before the JSON; the library call does not,
// but strip anything before the first "{" so either form parses.
const start = raw.indexOf("{");
if (start > 0) raw = raw.slice(start);
const output = JSON.parse(raw);

const diagnostics = output.errors ?? [];
for (const d of diagnostics) console.error(d.formattedMessage ?? d.message);
if (diagnostics.length > 0) {
  console.error(`solc reported ${diagnostics.length} diagnostic(s); warnings are errors here`);
  process.exit(1);
}

mkdirSync(outDir, { recursive: true });
const written = [];
for (const source of Object.keys(output.contracts).sort()) {
  for (const name of Object.keys(output.contracts[source]).sort()) {
    const c = output.contracts[source][name];
    const artifact = {
      abi: c.abi,
      bytecode: `0x${c.evm.bytecode.object}`,
      deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
    };
    writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(artifact, null, 2)}\n`);
    written.push(name);
  }
}
const info = { compiler: `solc-js ${solc.version()}`, settings: SETTINGS, contracts: written };
writeFileSync(join(outDir, "build-info.json"), `${JSON.stringify(info, null, 2)}\n`);
console.error(`compiled ${written.length} contracts with solc ${solc.version()} into ${outDir}`);
