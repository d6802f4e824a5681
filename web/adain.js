// The arithmetic around the exported graphs, as adain_hub does it in Python: sizes, pixels to
// tensors and back, and the AdaIN step between encoder.onnx and decoder.onnx. No DOM, no ONNX
// runtime: main.js wires these to the page, and the browser test checks them against numpy.

export const PAD_MULTIPLE = 8; // the encoder pads to this (inside its graph); the decoder returns the padded size
export const MIN_SIDE = 32; // smaller photos run upscaled to this, as adain_hub.images.network_size

// Python's round(): halves to even, so sizes match adain_hub.images exactly.
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// The size a stylized image comes out at (adain_hub.images.output_size): the longer side capped at
// `cap`, never upscaled, each side at least 1 px.
export function outputSize(width, height, cap) {
  const scale = cap ? Math.min(1, cap / Math.max(width, height)) : 1;
  if (scale === 1) return [width, height];
  return [Math.max(1, roundHalfEven(width * scale)), Math.max(1, roundHalfEven(height * scale))];
}

// How an outWidth x outHeight result runs through the network (adain_hub.input_plan.network_plan): an icon (its
// longer side under MIN_SIDE) is enlarged until that side is MIN_SIDE; a side still under MIN_SIDE (a strip's) is
// mirrored out to MIN_SIDE, split evenly, and cut back out after. `scaled` is the picture drawn, `padded` what the
// encoder takes, [top, left] where the picture sits in it.
export function networkPlan(width, height) {
  const longest = Math.max(width, height);
  const scale = longest < MIN_SIDE ? MIN_SIDE / longest : 1;
  const scaled = [Math.max(1, roundHalfEven(width * scale)), Math.max(1, roundHalfEven(height * scale))];
  const padded = [Math.max(scaled[0], MIN_SIDE), Math.max(scaled[1], MIN_SIDE)];
  return { scaled, padded, top: (padded[1] - scaled[1]) >> 1, left: (padded[0] - scaled[0]) >> 1 };
}

// Source positions of before + length + after positions mirrored about the edges, edge included (numpy's
// "symmetric" padding, adain_hub.input_plan.symmetric_index): works for a 1 px side too.
export function symmetricIndex(length, before, after) {
  return Int32Array.from({ length: before + length + after }, (_, k) => {
    const i = (((k - before) % (2 * length)) + 2 * length) % (2 * length);
    return i >= length ? 2 * length - 1 - i : i;
  });
}

// RGBA bytes of a picture at plan.scaled, mirrored out to plan.padded.
export function mirrorPad(rgba, plan) {
  const [sw, sh] = plan.scaled, [pw, ph] = plan.padded;
  const rows = symmetricIndex(sh, plan.top, ph - sh - plan.top);
  const cols = symmetricIndex(sw, plan.left, pw - sw - plan.left);
  const out = new Uint8ClampedArray(4 * pw * ph);
  for (let y = 0, o = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++, o += 4) {
      const i = 4 * (rows[y] * sw + cols[x]);
      out[o] = rgba[i];
      out[o + 1] = rgba[i + 1];
      out[o + 2] = rgba[i + 2];
      out[o + 3] = rgba[i + 3];
    }
  }
  return out;
}

// Where a height x width photo sits in the decoder's padded output: [top, left].
export function cropBox(height, width) {
  const mod = (n) => ((-n % PAD_MULTIPLE) + PAD_MULTIPLE) % PAD_MULTIPLE;
  return [Math.floor(mod(height) / 2), Math.floor(mod(width) / 2)];
}

// byte / 255 for every byte value, as float32: the same numbers as dividing each time, without the division
const UNIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

// RGBA bytes (ImageData.data) -> float32 (3, H, W) in [0, 1], the graphs' image layout. `out` (3 * W * H
// floats) is reused when given: a live frame then allocates nothing.
export function toTensorData(rgba, width, height, out = new Float32Array(3 * width * height)) {
  const n = width * height;
  for (let i = 0, o = 0; i < n; i++, o += 4) {
    out[i] = UNIT[rgba[o]];
    out[n + i] = UNIT[rgba[o + 1]];
    out[2 * n + i] = UNIT[rgba[o + 2]];
  }
  return out;
}

// AdaIN between the halves: give the photo's features (C, h, w) the painting's channel mean and std,
// then blend alpha of that with the photo's own features (adain_hub.onnx_export.adain_step).
export function adainStep(features, contentMean, contentStd, styleMean, styleStd, alpha,
  out = new Float32Array(features.length)) {
  const channels = contentMean.length;
  const size = features.length / channels;
  for (let c = 0; c < channels; c++) {
    const scale = styleStd[c] / contentStd[c];
    const shift = styleMean[c] - contentMean[c] * scale;
    const a = alpha * scale + (1 - alpha); // alpha * (f * scale + shift) + (1 - alpha) * f
    const b = alpha * shift;
    for (let i = c * size, end = i + size; i < end; i++) out[i] = features[i] * a + b;
  }
  return out;
}

// The decoder's float32 (3, planeHeight, planeWidth) image in [0, 1] -> RGBA bytes of the height x width
// picture at [top, left] in it, rounded as adain_hub.images.to_pil rounds (`out` reused when given).
export function toRGBA(chw, planeHeight, planeWidth, top, left, height, width,
  out = new Uint8ClampedArray(4 * width * height)) {
  const plane = planeHeight * planeWidth;
  const byte = (v) => Math.floor((v > 1 ? 1 : v > 0 ? v : 0) * 255 + 0.5); // clamped to [0, 1] first, as to_pil
  for (let y = 0; y < height; y++) {
    const row = (y + top) * planeWidth + left;
    for (let x = 0, o = 4 * y * width; x < width; x++, o += 4) {
      out[o] = byte(chw[row + x]);
      out[o + 1] = byte(chw[plane + row + x]);
      out[o + 2] = byte(chw[2 * plane + row + x]);
      out[o + 3] = 255;
    }
  }
  return out;
}

// The onnxruntime-web session options of both graphs on `backend` ("wasm" or "webgpu"). A camera frame asks
// for the same sizes again and again: keep the buffers instead of allocating them anew for every node of every
// run (onnxruntime-web turns both off unless asked). Shared with benchmarks/bench_web.py's probe page.
export function sessionOptions(backend) {
  return {
    executionProviders: backend === "webgpu" ? ["webgpu", "wasm"] : ["wasm"],
    graphOptimizationLevel: "all",
    enableCpuMemArena: true,
    enableMemPattern: backend !== "webgpu",
  };
}

// -- live frames ------------------------------------------------------------------------------
// Longer sides a camera frame may be stylized at, smallest first ("auto" moves along them).
export const LIVE_SIDES = [160, 240, 320, 480, 640];

// The automatic working size: the longer side that keeps `targetFps`, from how long the last frames took
// at `side` (ms each, the network's and the page's own work, not the wait for the camera). The work grows
// with the pixels, so one step up costs (next / side)^2 times as much: step up only when that still fits in
// 80% of a frame's time, and down as soon as the current size does not fit. Pure, so a test can drive it.
export function chooseSide(side, msPerFrame, targetFps, sides = LIVE_SIDES) {
  const budget = 1000 / targetFps;
  const i = sides.indexOf(side);
  if (i < 0) return sides[0];
  if (msPerFrame > budget && i > 0) return sides[i - 1];
  const next = sides[i + 1];
  if (next && msPerFrame * (next / side) ** 2 < 0.8 * budget) return next;
  return side;
}
