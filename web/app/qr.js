// Reading QR codes: the browser's BarcodeDetector where it has one that knows QR codes, else
// the pinned jsQR, loaded only when first needed (it is ~250 KB).
import { loadScript } from './ui.js';

const JSQR = '/vendor/jsqr/dist/jsQR.js?v=1.4.0';
let detectorPromise;

function detector() {
  detectorPromise ??= (async () => {
    try {
      if (!('BarcodeDetector' in window)) return null;
      const formats = await window.BarcodeDetector.getSupportedFormats();
      return formats.includes('qr_code') ? new window.BarcodeDetector({ formats: ['qr_code'] }) : null;
    } catch {
      return null;
    }
  })();
  return detectorPromise;
}

const canvas = document.createElement('canvas');

/** Decodes a QR code in `source` (an ImageBitmap, image, video or canvas) of size w×h. */
async function decode(source, w, h, max = 1024) {
  const det = await detector();
  if (det) {
    try {
      const codes = await det.detect(source);
      if (codes.length) return codes[0].rawValue;
      return null;
    } catch { /* fall back to jsQR */ }
  }
  await loadScript(JSQR);
  const scale = Math.min(1, max / Math.max(w, h));
  canvas.width = Math.max(1, Math.round(w * scale));
  canvas.height = Math.max(1, Math.round(h * scale));
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: 'attemptBoth' });
  return code ? code.data : null;
}

/** The text of the QR code in an image file, or null. */
export async function decodeFile(file) {
  const bitmap = await createImageBitmap(file);
  try {
    return await decode(bitmap, bitmap.width, bitmap.height);
  } finally {
    bitmap.close?.();
  }
}

/**
 * Scans the camera (rear one preferred) into `video` until a code is found: resolves to its text.
 * Returns `{result, stop()}`.
 */
export function scanCamera(video) {
  let stream;
  let stopped = false;
  const stop = () => {
    stopped = true;
    if (stream) for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  const result = (async () => {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    if (stopped) { stop(); return null; }
    video.srcObject = stream;
    await video.play();
    while (!stopped) {
      if (video.videoWidth) {
        const text = await decode(video, video.videoWidth, video.videoHeight, 800); // fast enough per frame
        if (text) { stop(); return text; }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    return null;
  })();
  return { result, stop };
}

/** The join token in a scanned text: a join URL (`…/join?token=…`) or the bare token. */
export function tokenOf(text) {
  if (!text) return null;
  const s = text.trim();
  try {
    const url = new URL(s, location.origin);
    const token = url.searchParams.get('token');
    if (token) return token;
  } catch { /* not a URL */ }
  return /^[A-Za-z0-9._~-]{16,}$/.test(s) ? s : null;
}
