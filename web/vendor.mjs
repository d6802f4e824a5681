// Copy the onnxruntime-web files the page loads from node_modules into ort/ (run by `npm ci` as the
// postinstall step, or `npm run vendor`). The page never loads anything from a CDN: ort/ is served
// with it, by app.py, by a plain static server, or by the Space (see the README's "In the browser").
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "node_modules", "onnxruntime-web", "dist");
const out = join(here, "ort");
// the WASM build (CPU), and the WebGPU build (which also runs on the CPU what WebGPU cannot)
const files = [
  "ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
  "ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm",
];
mkdirSync(out, { recursive: true });
for (const name of files) copyFileSync(join(dist, name), join(out, name));
const { version, license } = JSON.parse(readFileSync(join(dist, "..", "package.json"), "utf8"));
writeFileSync(join(out, "VERSION"), `onnxruntime-web ${version} (${license} licence), copied by vendor.mjs\n`);
console.log(`ort/: onnxruntime-web ${version}, ${files.length} files`);
