/**
 * Reading the enrollment QR code: BarcodeDetector where the browser has it, else jsQR on canvas
 * frames (loaded only when needed). A photo of the code works too, for browsers without camera access.
 */

interface Detector {
  detect(source: CanvasImageSource): Promise<{ rawValue: string }[]>;
}

async function nativeDetector(): Promise<Detector | null> {
  const Ctor = (globalThis as { BarcodeDetector?: { new (o: { formats: string[] }): Detector; getSupportedFormats(): Promise<string[]> } }).BarcodeDetector;
  if (!Ctor) return null;
  try {
    return (await Ctor.getSupportedFormats()).includes('qr_code') ? new Ctor({ formats: ['qr_code'] }) : null;
  } catch {
    return null;
  }
}

async function decodeFrame(canvas: HTMLCanvasElement, source: CanvasImageSource, width: number, height: number): Promise<string | null> {
  const scale = Math.min(1, 800 / Math.max(width, height));
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const g = canvas.getContext('2d', { willReadFrequently: true });
  if (!g) return null;
  g.drawImage(source, 0, 0, canvas.width, canvas.height);
  const { default: jsQR } = await import('jsqr');
  const image = g.getImageData(0, 0, canvas.width, canvas.height);
  return jsQR(image.data, image.width, image.height, { inversionAttempts: 'attemptBoth' })?.data ?? null;
}

async function detect(detector: Detector | null, canvas: HTMLCanvasElement, source: CanvasImageSource, width: number, height: number): Promise<string | null> {
  if (detector) {
    try {
      const found = await detector.detect(source);
      if (found[0]?.rawValue) return found[0].rawValue;
      return null;
    } catch {
      // Fall through to jsQR.
    }
  }
  return decodeFrame(canvas, source, width, height);
}

/** Decodes a QR code in a picture file, or null. */
export async function scanImageFile(file: Blob): Promise<string | null> {
  const bitmap = await createImageBitmap(file);
  try {
    return await detect(await nativeDetector(), document.createElement('canvas'), bitmap, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

/** Shows the back camera in `video` until a QR code is read or `signal` aborts. */
export async function scanCamera(video: HTMLVideoElement, signal: AbortSignal): Promise<string> {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  try {
    video.srcObject = stream;
    video.muted = true;
    video.setAttribute('playsinline', '');
    await video.play();
    const detector = await nativeDetector();
    const canvas = document.createElement('canvas');
    while (!signal.aborted) {
      if (video.videoWidth > 0) {
        const text = await detect(detector, canvas, video, video.videoWidth, video.videoHeight);
        if (text) return text;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new DOMException('Scanning was stopped', 'AbortError');
  } finally {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  }
}
