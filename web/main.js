// The page: load the exported encoder and decoder into onnxruntime-web (WebGPU where the browser has
// it, WASM otherwise), read the photo and the painting from files the visitor picks or drops, and
// paint the result on the canvas. Nothing is uploaded: every pixel stays in this tab.
//
// The photo and the painting are each encoded once (per working size); moving the alpha slider runs
// only the AdaIN step (adain.js) and the decoder.
import * as A from "./adain.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// ?model=URL/ loads another export (a folder written by `adain export`), e.g. a Hub repo's onnx/ folder
const MODEL = new URL(params.get("model") || "model/", location.href).href.replace(/\/?$/, "/");
const ORT = new URL("./ort/", import.meta.url).href;

const state = {
  ort: null, backend: "", threads: 1, encoder: null, decoder: null,
  photo: null, painting: null, content: null, style: null, running: false, again: false,
};

function setStatus(text, kind = "ready") {
  $("status").textContent = text;
  document.body.dataset.state = kind;
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

// -- the runtime and the model -------------------------------------------------------------
async function hasWebGPU() {
  if (!navigator.gpu) return false;
  try {
    return Boolean(await navigator.gpu.requestAdapter());
  } catch {
    return false;
  }
}

async function fetchModel(name) {
  const response = await fetch(MODEL + name);
  if (!response.ok) throw new Error(`${MODEL}${name}: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function openSessions(backend, encoderBytes, decoderBytes) {
  // the WASM build is half the download of the WebGPU one, so a browser without WebGPU gets only it
  const ort = await import(backend === "webgpu" ? `${ORT}ort.webgpu.min.mjs` : `${ORT}ort.wasm.min.mjs`);
  ort.env.wasm.wasmPaths = ORT;
  // threads need a cross-origin isolated page (app.py sends the headers; a plain static server does not)
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  const options = { executionProviders: backend === "webgpu" ? ["webgpu", "wasm"] : ["wasm"] };
  const encoder = await ort.InferenceSession.create(encoderBytes.slice(), options);
  const decoder = await ort.InferenceSession.create(decoderBytes.slice(), options);
  Object.assign(state, { ort, backend, encoder, decoder, threads: ort.env.wasm.numThreads });
}

async function start() {
  let bytes;
  try {
    bytes = await Promise.all([fetchModel("encoder.onnx"), fetchModel("decoder.onnx")]);
  } catch (error) {
    setStatus(`No model at ${MODEL} (${error.message}). Export one: adain export --model model_card_lite --out web/model`, "error");
    return;
  }
  const wanted = params.get("backend") || ((await hasWebGPU()) ? "webgpu" : "wasm");
  try {
    await openSessions(wanted, ...bytes);
  } catch (error) {
    if (wanted !== "webgpu") throw error;
    await openSessions("wasm", ...bytes); // WebGPU is there but this graph or device refused it
  }
  const version = state.ort.env.versions?.web ?? "";
  const where = state.backend === "webgpu" ? "WebGPU" : `WASM, ${state.threads} thread${state.threads > 1 ? "s" : ""}`;
  $("backend").textContent = `onnxruntime-web ${version} on ${where}; model: ${MODEL}`;
  document.body.dataset.backend = state.backend;
  setStatus("Ready: pick or drop a photo and a painting.");
  render();
}

// -- images ---------------------------------------------------------------------------------
async function readImage(file, label) {
  try {
    // as adain_hub.images.load_image: EXIF orientation applied, colour profiles not
    return await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none", imageOrientation: "from-image" });
  } catch {
    throw new Error(`${label}: not an image, or a damaged or unsupported one.`);
  }
}

// RGBA bytes of `bitmap` drawn at width x height, transparency on white (as load_image does).
function pixels(bitmap, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height).data;
}

async function encode(bitmap, cap) {
  const [outWidth, outHeight] = A.outputSize(bitmap.width, bitmap.height, cap);
  const [width, height] = A.networkSize(outWidth, outHeight);
  const start = performance.now();
  const data = A.toTensorData(pixels(bitmap, width, height), width, height);
  const out = await state.encoder.run({ image: new state.ort.Tensor("float32", data, [1, 3, height, width]) });
  return {
    cap, width, height, outWidth, outHeight, dims: out.features.dims,
    features: out.features.data, mean: out.mean.data, std: out.std.data, ms: performance.now() - start,
  };
}

function draw(rgba, content) {
  const canvas = $("result");
  const image = new ImageData(rgba, content.width, content.height);
  canvas.width = content.outWidth;
  canvas.height = content.outHeight;
  const ctx = canvas.getContext("2d");
  if (content.width === content.outWidth && content.height === content.outHeight) {
    ctx.putImageData(image, 0, 0);
    return;
  }
  const small = new OffscreenCanvas(content.width, content.height); // a tiny photo ran upscaled: back to its size
  small.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(small, 0, 0, content.outWidth, content.outHeight);
}

// -- stylizing ------------------------------------------------------------------------------
async function stylizeOnce() {
  const cap = Number($("size").value);
  const alpha = Number($("alpha").value);
  setStatus("Stylizing…", "busy");
  await nextFrame(); // let the status show before the work blocks the tab
  const start = performance.now();
  const times = { photo: 0, painting: 0 };
  if (state.content?.cap !== cap) {
    state.content = await encode(state.photo, cap);
    times.photo = state.content.ms;
  }
  if (state.style?.cap !== cap) {
    state.style = await encode(state.painting, cap);
    times.painting = state.style.ms;
  }
  const c = state.content, s = state.style;
  const decodeStart = performance.now();
  const target = A.adainStep(c.features, c.mean, c.std, s.mean, s.std, alpha);
  const out = await state.decoder.run({ features: new state.ort.Tensor("float32", target, c.dims) });
  const [, , paddedHeight, paddedWidth] = out.image.dims;
  draw(A.toRGBA(out.image.data, paddedHeight, paddedWidth, c.height, c.width), c);
  times.decode = performance.now() - decodeStart;
  times.total = performance.now() - start;
  window.adainTimes = { ...times, backend: state.backend, threads: state.threads, width: c.outWidth, height: c.outHeight, alpha };
  const parts = [times.photo && `photo ${times.photo.toFixed(0)} ms`, times.painting && `painting ${times.painting.toFixed(0)} ms`,
    `AdaIN + decoder ${times.decode.toFixed(0)} ms`].filter(Boolean).join(", ");
  $("time").textContent = `${c.outWidth} × ${c.outHeight} in ${times.total.toFixed(0)} ms (${parts})`;
  $("download").disabled = false;
  setStatus(`Done (alpha ${alpha.toFixed(2)}).`, "done");
}

// One run at a time; changes made while one runs are taken up by one more run when it ends.
async function render() {
  if (!state.photo || !state.painting || !state.encoder) return;
  if (state.running) {
    state.again = true;
    return;
  }
  state.running = true;
  try {
    do {
      state.again = false;
      await stylizeOnce();
    } while (state.again);
  } catch (error) {
    setStatus(`Could not stylize: ${error.message}`, "error");
  } finally {
    state.running = false;
  }
}

async function choose(kind, file) {
  const label = kind === "photo" ? "Photo" : "Painting";
  let bitmap;
  try {
    bitmap = await readImage(file, label);
  } catch (error) {
    setStatus(error.message, "error");
    return;
  }
  state[kind] = bitmap;
  state[kind === "photo" ? "content" : "style"] = null;
  const preview = $(`${kind}-preview`);
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  $(`${kind}-drop`).classList.add("filled");
  if (!state.encoder) return; // start() renders once the model is in
  if (!state.photo || !state.painting) setStatus(`Now ${kind === "photo" ? "a painting" : "a photo"}.`);
  render();
}

function wire(kind) {
  const drop = $(`${kind}-drop`), input = $(`${kind}-input`);
  input.addEventListener("change", () => input.files[0] && choose(kind, input.files[0]));
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files[0]) choose(kind, event.dataTransfer.files[0]);
  });
}

wire("photo");
wire("painting");
$("alpha").addEventListener("input", () => {
  $("alpha-value").textContent = Number($("alpha").value).toFixed(2);
  render();
});
$("size").addEventListener("change", render);
$("download").addEventListener("click", () => {
  $("result").toBlob((blob) => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "stylized.png";
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }, "image/png");
});
start().catch((error) => setStatus(`Could not start onnxruntime-web: ${error.message}`, "error"));
