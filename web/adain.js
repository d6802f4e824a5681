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
// `cap`, never upscaled, the shorter side kept at MIN_SIDE or more where it has it.
export function outputSize(width, height, cap) {
  let scale = cap ? Math.min(1, cap / Math.max(width, height)) : 1;
  if (Math.min(width, height) * scale < MIN_SIDE) scale = Math.min(1, MIN_SIDE / Math.min(width, height));
  const w = Math.max(MIN_SIDE, roundHalfEven(width * scale));
  const h = Math.max(MIN_SIDE, roundHalfEven(height * scale));
  return [Math.min(w, width), Math.min(h, height)];
}

// The size the network runs an output size at (adain_hub.images.network_size).
export function networkSize(width, height) {
  if (Math.min(width, height) >= MIN_SIDE) return [width, height];
  const scale = MIN_SIDE / Math.min(width, height);
  return [Math.max(MIN_SIDE, roundHalfEven(width * scale)), Math.max(MIN_SIDE, roundHalfEven(height * scale))];
}

// Where a height x width photo sits in the decoder's padded output: [top, left].
export function cropBox(height, width) {
  const mod = (n) => ((-n % PAD_MULTIPLE) + PAD_MULTIPLE) % PAD_MULTIPLE;
  return [Math.floor(mod(height) / 2), Math.floor(mod(width) / 2)];
}

// RGBA bytes (ImageData.data) -> float32 (3, H, W) in [0, 1], the graphs' image layout.
export function toTensorData(rgba, width, height) {
  const n = width * height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    out[i] = rgba[4 * i] / 255;
    out[n + i] = rgba[4 * i + 1] / 255;
    out[2 * n + i] = rgba[4 * i + 2] / 255;
  }
  return out;
}

// AdaIN between the halves: give the photo's features (C, h, w) the painting's channel mean and std,
// then blend alpha of that with the photo's own features (adain_hub.onnx_export.adain_step).
export function adainStep(features, contentMean, contentStd, styleMean, styleStd, alpha) {
  const channels = contentMean.length;
  const size = features.length / channels;
  const out = new Float32Array(features.length);
  for (let c = 0; c < channels; c++) {
    const scale = styleStd[c] / contentStd[c];
    const shift = styleMean[c] - contentMean[c] * scale;
    const a = alpha * scale + (1 - alpha); // alpha * (f * scale + shift) + (1 - alpha) * f
    const b = alpha * shift;
    for (let i = c * size, end = i + size; i < end; i++) out[i] = features[i] * a + b;
  }
  return out;
}

// The decoder's float32 (3, paddedH, paddedW) image in [0, 1] -> RGBA bytes of the height x width
// photo cut out of it, rounded as adain_hub.images.to_pil rounds.
export function toRGBA(chw, paddedHeight, paddedWidth, height, width) {
  const [top, left] = cropBox(height, width);
  const plane = paddedHeight * paddedWidth;
  const out = new Uint8ClampedArray(4 * width * height);
  const byte = (v) => Math.floor(Math.min(Math.max(v, 0), 1) * 255 + 0.5);
  for (let y = 0; y < height; y++) {
    const row = (y + top) * paddedWidth + left;
    for (let x = 0; x < width; x++) {
      const o = 4 * (y * width + x);
      out[o] = byte(chw[row + x]);
      out[o + 1] = byte(chw[plane + row + x]);
      out[o + 2] = byte(chw[2 * plane + row + x]);
      out[o + 3] = 255;
    }
  }
  return out;
}
