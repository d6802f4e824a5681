// The page: load the exported encoder and decoder into onnxruntime-web (WebGPU where the browser has
// it, WASM otherwise), take a photo (a file picked or dropped) or the camera, and a painting (one of the
// model's famous paintings, or a file), and paint the result on the canvas. Nothing is uploaded: every
// pixel stays in this tab.
//
// One pipeline serves the photo and the camera (`stylize` below: encode, the AdaIN step, decode, paint).
// A photo is encoded once per working size, so moving the alpha slider runs only the AdaIN step and the
// decoder; a camera frame is encoded anew each time. A painting is encoded once (a famous one never: the
// model's style bank carries its statistics), at a 512 px longer side, as adain_hub's Stylizer encodes styles.
import * as A from "./adain.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// ?model=URL/ loads another export (a folder written by `adain export`), e.g. a Hub repo's onnx/ folder
const MODEL = new URL(params.get("model") || "model/", location.href).href.replace(/\/?$/, "/");
const ORT = new URL("./ort/", import.meta.url).href;
const STYLE_SIDE = 512; // adain_hub.Stylizer's style_size
const TARGET_FPS = 15; // what the automatic live size holds
const AUTO_EVERY_MS = 1500; // how long the automatic size waits between changes, so that timings settle
const SNAPSHOT_SIDE = 1280; // a snapshot runs at the camera's own size up to this

const state = {
  ort: null, backend: "", threads: 1, encoder: null, decoder: null,
  source: "photo", // or "camera"
  photo: null, // the photo's ImageBitmap
  content: null, // the photo encoded at the current working size
  style: null, // { label, mean, std, bitmap? }: a painting without mean/std is encoded by the next run
  bank: [], // the model's famous paintings (styles.json beside the graphs), mean/std ready
  camera: null, // { stream, video, side, frames, ... } while the camera is on
  busy: false, waiting: [], // one run at a time (see take/give)
  stillPending: false,
  buffers: new Map(), // reused typed arrays by purpose and size: a live frame allocates nothing big
};

function setStatus(text, kind = "ready") {
  $("status").textContent = text;
  document.body.dataset.state = kind;
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

// -- one run at a time ------------------------------------------------------------------------
// onnxruntime-web runs one session call at a time. A still or a snapshot waits for its turn; a camera
// frame that finds the pipeline busy is dropped (take() is not called), never queued.
function take() {
  if (!state.busy) {
    state.busy = true;
    return Promise.resolve();
  }
  return new Promise((resolve) => state.waiting.push(resolve));
}

function give() {
  const next = state.waiting.shift();
  if (next) next(); // handed straight to the next waiter: still busy
  else state.busy = false;
}

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
  // threads need a cross-origin isolated page (see isolate()); onnxruntime-web's own default is half the
  // cores, which leaves one of two idle. ?threads=N asks for N.
  const threads = Number(params.get("threads")) || Math.min(4, navigator.hardwareConcurrency || 1);
  ort.env.wasm.numThreads = self.crossOriginIsolated ? threads : 1;
  const options = A.sessionOptions(backend);
  const encoder = await ort.InferenceSession.create(encoderBytes.slice(), options);
  const decoder = await ort.InferenceSession.create(decoderBytes.slice(), options);
  Object.assign(state, { ort, backend, encoder, decoder, threads: ort.env.wasm.numThreads });
}

// The model's famous paintings: styles.json, written by `adain export` next to the graphs when the model has
// a style bank (names, credits, thumbnails and each painting's statistics). Optional: without it the
// visitor drops a painting.
async function loadBank() {
  let data;
  try {
    const response = await fetch(MODEL + "styles.json");
    if (!response.ok) return [];
    data = await response.json();
  } catch {
    return [];
  }
  return (data.styles || []).map((s) => ({
    name: s.name, credit: s.credit || "", thumbnail: s.thumbnail || "",
    mean: Float32Array.from(s.mean), std: Float32Array.from(s.std),
  }));
}

// WASM threads need a cross-origin isolated page. app.py sends the two headers that make it one; a plain static
// server does not, and then sw.js adds them to this folder's responses: register it and reload, once per tab
// (if the page is still not isolated after that, it runs on one thread). ?threads=1 skips it.
async function isolate() {
  if (self.crossOriginIsolated || !navigator.serviceWorker || params.get("threads") === "1") return false;
  if (sessionStorage.getItem("adain-isolate")) return false;
  try {
    sessionStorage.setItem("adain-isolate", "tried");
    await navigator.serviceWorker.register(new URL("./sw.js", import.meta.url));
    await navigator.serviceWorker.ready;
  } catch {
    return false; // no service worker here (a private window, a policy): one thread
  }
  location.reload();
  return true;
}

async function start() {
  if (await isolate()) return;
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
  state.bank = await loadBank();
  showBank();
  const version = state.ort.env.versions?.web ?? "";
  const where = state.backend === "webgpu" ? "WebGPU" : `WASM, ${state.threads} thread${state.threads > 1 ? "s" : ""}`;
  $("backend").textContent = `onnxruntime-web ${version} on ${where}; model: ${MODEL}`;
  document.body.dataset.backend = state.backend;
  if (!state.style && state.bank.length) {
    // one painting from the start, so that the camera comes up painted at once
    const first = state.bank.find((s) => s.name === params.get("painting")) || state.bank[0];
    pickFamous(first);
  }
  setStatus(state.bank.length ? "Ready: pick or drop a photo, or start the camera." : "Ready: pick or drop a photo and a painting.");
  if (params.get("source") === "camera" || state.source === "camera") setSource("camera");
  else render();
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

function buffer(kind, Type, length) {
  let b = state.buffers.get(kind);
  if (!b || b.length !== length || !(b instanceof Type)) {
    b = new Type(length);
    state.buffers.set(kind, b);
  }
  return b;
}

let reader = null; // the canvas images are drawn on to read their pixels, kept between frames

// RGBA bytes of `source` (an ImageBitmap or the camera's <video>) drawn at width x height, transparency on
// white (as load_image does).
function pixels(source, width, height) {
  if (!reader || reader.canvas.width !== width || reader.canvas.height !== height) {
    reader = new OffscreenCanvas(width, height).getContext("2d", { willReadFrequently: true });
  }
  reader.fillStyle = "#fff";
  reader.fillRect(0, 0, width, height);
  reader.imageSmoothingQuality = "high";
  reader.drawImage(source, 0, 0, width, height);
  return reader.getImageData(0, 0, width, height).data;
}

// -- the pipeline ---------------------------------------------------------------------------------
// Encode `source` as the network takes an outWidth x outHeight result (A.networkPlan: an icon enlarged, a strip
// mirrored out, as in Python). `reuse` keeps the input tensor's buffer (a camera frame), else it is the photo's
// own and stays with its features. `statsOnly` fetches the channel statistics alone (a painting): the features
// then never leave onnxruntime-web, which saves a few ms.
async function encode(source, outWidth, outHeight, reuse, statsOnly = false) {
  const plan = A.networkPlan(outWidth, outHeight);
  const [width, height] = plan.scaled, [paddedWidth, paddedHeight] = plan.padded;
  const start = performance.now();
  const rgba = pixels(source, width, height);
  const padded = paddedWidth === width && paddedHeight === height ? rgba : A.mirrorPad(rgba, plan); // a strip
  const size = 3 * paddedWidth * paddedHeight;
  const data = A.toTensorData(padded, paddedWidth, paddedHeight,
    reuse ? buffer("input", Float32Array, size) : new Float32Array(size));
  const runStart = performance.now();
  const feeds = { image: new state.ort.Tensor("float32", data, [1, 3, paddedHeight, paddedWidth]) };
  const out = await (statsOnly ? state.encoder.run(feeds, ["mean", "std"]) : state.encoder.run(feeds));
  const end = performance.now();
  const [top, left] = A.cropBox(paddedHeight, paddedWidth); // where the graph put the padded input
  return {
    width, height, outWidth, outHeight, dims: out.features?.dims, input: rgba, top: top + plan.top,
    left: left + plan.left, features: out.features?.data, mean: out.mean.data, std: out.std.data, ms: end - start,
    graphMs: end - runStart,
  };
}

// A painting given as a picture: its statistics, from the encoder at adain_hub's style size.
async function encodeStyle(style) {
  const [w, h] = A.outputSize(style.bitmap.width, style.bitmap.height, STYLE_SIDE);
  const encoded = await encode(style.bitmap, w, h, false, true);
  Object.assign(style, { mean: encoded.mean, std: encoded.std });
  return encoded;
}

// The AdaIN step and the decoder: RGBA bytes of the stylized content (at its network size), and the ms
// the decoder graph took.
async function decode(content, style, alpha, reuse) {
  const n = content.features.length;
  const target = A.adainStep(content.features, content.mean, content.std, style.mean, style.std, alpha,
    reuse ? buffer("target", Float32Array, n) : new Float32Array(n));
  const runStart = performance.now();
  const out = await state.decoder.run({ features: new state.ort.Tensor("float32", target, content.dims) });
  const graphMs = performance.now() - runStart;
  const [, , planeHeight, planeWidth] = out.image.dims;
  const size = 4 * content.width * content.height;
  const rgba = A.toRGBA(out.image.data, planeHeight, planeWidth, content.top, content.left, content.height,
    content.width, reuse ? buffer("rgba", Uint8ClampedArray, size) : new Uint8ClampedArray(size));
  return { rgba, graphMs };
}

function paint(canvas, rgba, content) {
  const image = new ImageData(rgba, content.width, content.height);
  if (canvas.width !== content.outWidth || canvas.height !== content.outHeight) {
    canvas.width = content.outWidth;
    canvas.height = content.outHeight;
  }
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

// The one pipeline: `source` at an outWidth x outHeight result painted on `canvas`, with the current painting
// and alpha. `content` is the source already encoded (a photo at an unchanged size), else it is encoded here;
// `live` reuses the frame buffers. Returns the encoding (to keep), the pixels, the alpha and painting used,
// and the times in ms (`graphs`: of the total, the part inside onnxruntime-web's session runs, so the
// page's own work is the rest).
async function stylize({ source, outWidth, outHeight, content = null, live = false, canvas = $("result") }) {
  const start = performance.now();
  const times = { photo: 0, painting: 0, graphs: 0 };
  const style = state.style;
  if (!style.mean) {
    const encoded = await encodeStyle(style);
    times.painting = encoded.ms;
    times.graphs += encoded.graphMs;
  }
  if (!content) {
    content = await encode(source, outWidth, outHeight, live);
    times.photo = content.ms;
    times.graphs += content.graphMs;
  }
  const alpha = Number($("alpha").value);
  const decodeStart = performance.now();
  const { rgba, graphMs } = await decode(content, style, alpha, live);
  paint(canvas, rgba, content);
  times.decode = performance.now() - decodeStart;
  times.graphs += graphMs;
  times.total = performance.now() - start;
  return { content, rgba, alpha, style, times };
}

// -- photos -----------------------------------------------------------------------------------
async function stylizeStill(fresh = false) {
  const cap = Number($("size").value);
  const [outWidth, outHeight] = A.outputSize(state.photo.width, state.photo.height, cap);
  if (fresh) {
    state.content = null;
    if (state.style.bitmap) state.style.mean = null;
  }
  const kept = state.content?.cap === cap ? state.content : null;
  setStatus("Stylizing…", "busy");
  await nextFrame(); // let the status show before the work blocks the tab
  const run = await stylize({ source: state.photo, outWidth, outHeight, content: kept });
  state.content = Object.assign(run.content, { cap });
  const { times, alpha } = run;
  const c = state.content;
  window.adainTimes = { ...times, backend: state.backend, threads: state.threads, width: c.outWidth, height: c.outHeight,
    alpha, style: run.style.label };
  const parts = [times.photo && `photo ${times.photo.toFixed(0)} ms`, times.painting && `painting ${times.painting.toFixed(0)} ms`,
    `AdaIN + decoder ${times.decode.toFixed(0)} ms`].filter(Boolean).join(", ");
  $("time").textContent = `${c.outWidth} × ${c.outHeight} in ${times.total.toFixed(0)} ms (${parts})`;
  $("download").disabled = false;
  setStatus(`Done (alpha ${alpha.toFixed(2)}).`, "done");
  return window.adainTimes;
}

// Restyle the photo; changes made while a run is on are taken up by one more run when it ends.
async function render(fresh = false) {
  if (state.source !== "photo" || !state.photo || !state.style || !state.encoder) return null;
  if (state.stillPending) return null; // a run is already waiting, and it will see this change
  state.stillPending = true;
  await take();
  state.stillPending = false;
  try {
    if (state.source !== "photo") return null;
    return await stylizeStill(fresh);
  } catch (error) {
    setStatus(`Could not stylize: ${error.message}`, "error");
    return null;
  } finally {
    give();
  }
}

// -- the camera -------------------------------------------------------------------------------
// Why getUserMedia failed, in one line the visitor can act on.
function cameraMessage(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera permission refused: allow the camera for this page in the browser's site settings, or use a photo.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera found on this device: use a photo instead.";
    case "NotReadableError":
    case "AbortError":
      return "The camera could not start (is another program using it?): close that program, or use a photo.";
    case "NoMediaDevices":
      return "No camera here: this browser offers none to this page (cameras need https or localhost). Use a photo instead.";
    default:
      return `The camera could not start (${error?.message || error}): use a photo instead.`;
  }
}

async function startCamera() {
  if (state.camera || !state.encoder) return;
  const camera = { stream: null, video: $("camera"), side: 320, frames: 0, shown: [], work: [],
    presented: 0, done: 0, lastAuto: performance.now(), stopped: false };
  state.camera = camera;
  try {
    if (!navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error("no mediaDevices"), { name: "NoMediaDevices" });
    setStatus("Starting the camera…", "busy");
    camera.stream = await navigator.mediaDevices.getUserMedia({
      audio: false, video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
    });
  } catch (error) {
    if (state.camera === camera) state.camera = null;
    if (state.source === "camera") setStatus(cameraMessage(error), "error");
    return;
  }
  if (camera.stopped) { // the visitor switched away (or hid the tab) while the browser asked
    camera.stream.getTracks().forEach((t) => t.stop());
    return;
  }
  camera.video.srcObject = camera.stream;
  await camera.video.play().catch(() => {});
  document.body.dataset.camera = "on";
  setStatus(state.style ? "Live: the camera is painted in this tab; nothing leaves it." : "Live: now pick a painting.", "live");
  $("snapshot").disabled = false;
  watchFrames(camera);
}

// Stop the camera: the browser's camera light goes off. The source stays "camera", so that the camera
// comes back when the tab is shown again.
function stopCamera() {
  const camera = state.camera;
  if (!camera) return;
  camera.stopped = true;
  camera.stream?.getTracks().forEach((t) => t.stop());
  camera.video.srcObject = null;
  state.camera = null;
  document.body.dataset.camera = "off";
  $("snapshot").disabled = true;
}

// Run the pipeline on camera frames as they come: each new frame if the last one is done, else it is dropped
// and the newest frame is taken as soon as the run ends. (While onnxruntime-web computes on this thread, the
// browser itself skips the frame callbacks; `presented` counts the camera's frames all the same.)
function watchFrames(camera) {
  const video = camera.video;
  const onFrame = (now, metadata) => {
    if (camera.stopped) return;
    camera.presented = metadata?.presentedFrames ?? camera.presented + 1;
    camera.first ??= camera.presented - 1;
    schedule();
    if (!state.busy) liveFrame(camera); // else this frame is dropped: the newest is taken when the run ends
  };
  const schedule = () => {
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(onFrame);
    else requestAnimationFrame(() => (video.readyState >= 2 ? onFrame() : schedule())); // older browsers: every paint
  };
  schedule();
}

async function liveFrame(camera) {
  const video = camera.video;
  if (!video.videoWidth || !state.style) return;
  state.busy = true; // take() without waiting: the caller saw it free
  const seen = camera.presented;
  try {
    const side = liveSide(camera);
    const [outWidth, outHeight] = A.outputSize(video.videoWidth, video.videoHeight, side);
    const run = await stylize({ source: video, outWidth, outHeight, live: true });
    if (camera.stopped) return; // released while this frame ran (the tab hidden, the source changed)
    camera.done = seen;
    const now = performance.now();
    camera.frames++;
    camera.shown.push(now);
    camera.work.push(run.times.total);
    while (camera.shown.length && camera.shown[0] < now - 1000) camera.shown.shift();
    if (camera.work.length > 10) camera.work.shift();
    const fps = camera.shown.length > 1 ? (camera.shown.length - 1) / ((now - camera.shown[0]) / 1000) : 0;
    const w = run.content.outWidth, h = run.content.outHeight;
    $("time").textContent = `${fps.toFixed(1)} fps, ${w} × ${h}${$("live-size").value === "auto" ? " (auto)" : ""}`;
    // the page's own counters, for tests and benchmarks/bench_web.py; the last frame's input and output
    window.adainLive = { frames: camera.frames, dropped: camera.presented - camera.first - camera.frames, fps,
      width: w, height: h, ms: run.times.total, encodeMs: run.times.photo, decodeMs: run.times.decode,
      graphsMs: run.times.graphs, backend: state.backend, threads: state.threads };
    window.adainFrame = { input: run.content.input, output: run.rgba, width: run.content.width,
      height: run.content.height, alpha: run.alpha, painting: run.style.label };
  } catch (error) {
    stopCamera();
    setStatus(`Could not stylize the camera: ${error.message}`, "error");
  } finally {
    give();
  }
  // a frame came while this one ran: take the newest now rather than wait for the one after it
  if (state.camera === camera && !state.busy && camera.presented > camera.done) liveFrame(camera);
}

// The longer side for the next frame: the size control's, or with "auto" the one that keeps TARGET_FPS.
function liveSide(camera) {
  const chosen = $("live-size").value;
  if (chosen !== "auto") return (camera.side = Number(chosen));
  const now = performance.now();
  if (camera.work.length >= 3 && now - camera.lastAuto > AUTO_EVERY_MS) {
    const ms = [...camera.work].sort((a, b) => a - b)[camera.work.length >> 1];
    const side = A.chooseSide(camera.side, ms, TARGET_FPS);
    if (side !== camera.side) {
      camera.side = side;
      camera.work = [];
    }
    camera.lastAuto = now;
  }
  return camera.side;
}

// Snapshot: the camera's current frame at its full size (up to SNAPSHOT_SIDE) through the same pipeline, as a
// PNG download.
async function snapshot() {
  const camera = state.camera;
  if (!camera) return;
  const bitmap = await createImageBitmap(camera.video);
  await take();
  try {
    const canvas = document.createElement("canvas");
    const [outWidth, outHeight] = A.outputSize(bitmap.width, bitmap.height, SNAPSHOT_SIDE);
    const { times } = await stylize({ source: bitmap, outWidth, outHeight, canvas });
    window.adainSnapshot = { width: outWidth, height: outHeight, ms: times.total };
    download(canvas, "stylized-camera.png");
  } catch (error) {
    setStatus(`Could not take the snapshot: ${error.message}`, "error");
  } finally {
    bitmap.close();
    give();
  }
}

function download(canvas, name) {
  canvas.toBlob((blob) => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }, "image/png");
}

function setSource(source) {
  state.source = source;
  document.body.dataset.source = source;
  for (const button of document.querySelectorAll("[data-source-button]")) {
    button.setAttribute("aria-pressed", String(button.dataset.sourceButton === source));
  }
  if (source === "camera") {
    $("download").disabled = true;
    startCamera();
  } else {
    stopCamera();
    $("time").textContent = "";
    setStatus(state.photo ? "Photo." : "Pick or drop a photo.");
    if (state.photo) render();
  }
}

// -- paintings ------------------------------------------------------------------------------
function showBank() {
  const list = $("bank");
  list.replaceChildren();
  for (const style of state.bank) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "famous";
    button.title = style.credit || style.name;
    button.dataset.name = style.name;
    const img = document.createElement("img");
    img.src = style.thumbnail;
    img.alt = style.name;
    button.append(img);
    button.addEventListener("click", () => pickFamous(style));
    list.append(button);
  }
  $("bank-box").hidden = state.bank.length === 0;
}

function pickFamous(style) {
  state.style = { label: style.name, mean: style.mean, std: style.std };
  showPainting(style.thumbnail, style.credit || style.name);
  for (const b of document.querySelectorAll("#bank .famous")) b.setAttribute("aria-pressed", String(b.dataset.name === style.name));
  render();
}

function showPainting(src, credit) {
  const preview = $("painting-preview");
  if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
  preview.src = src;
  $("painting-drop").classList.add("filled");
  $("credit").textContent = credit;
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
  if (kind === "photo") {
    state.photo = bitmap;
    state.content = null;
    const preview = $("photo-preview");
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    $("photo-drop").classList.add("filled");
    if (state.source !== "photo") setSource("photo");
  } else {
    state.style = { label: file.name, bitmap, mean: null, std: null }; // encoded by the next run
    showPainting(URL.createObjectURL(file), file.name);
    for (const b of document.querySelectorAll("#bank .famous")) b.setAttribute("aria-pressed", "false");
  }
  if (!state.encoder) return; // start() renders once the model is in
  if (state.source === "photo" && (!state.photo || !state.style)) setStatus(`Now ${kind === "photo" ? "a painting" : "a photo"}.`);
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
  render(); // a live frame reads the slider itself
});
$("size").addEventListener("change", () => render());
for (const button of document.querySelectorAll("[data-source-button]")) {
  button.addEventListener("click", () => setSource(button.dataset.sourceButton));
}
$("snapshot").addEventListener("click", snapshot);
$("download").addEventListener("click", () => download($("result"), "stylized.png"));
// the camera is released while the tab is hidden, and comes back with it
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") stopCamera();
  else if (state.source === "camera") startCamera();
});
// for tests and benchmarks: restyle the photo with both images encoded anew; resolves to the run's times
window.adainRestyle = () => render(true);
start().catch((error) => setStatus(`Could not start onnxruntime-web: ${error.message}`, "error"));
