/** What the viewer's server and the live worker (worker.ts) say to each other over the IPC channel. */
import type { Device } from '../engine/device.js';

/** Server to worker. */
export type LiveRequest =
  | {
      type: 'start';
      /** A MobileNetV2 U-Net model folder to start from, with the viewer's classes. */
      model: string | null;
      /** Otherwise: the ImageNet MobileNetV2 weights file, and a fresh decoder for this many classes. */
      encoderWeights: string | null;
      numClasses: number;
      /** Where to compute. */
      device: Device;
    }
  | {
      type: 'update';
      id: number;
      key: string;
      width: number;
      height: number;
      /** The image's RGB bytes, the first time its key is sent. */
      rgb: Uint8Array | null;
      /** Class indices (255 unlabelled) at the image's size; null: as before. */
      labels: Uint8Array | null;
      /** How long to train before predicting. */
      trainMs: number;
    };

/** Worker to server. */
export type LiveReply =
  | { type: 'ready'; line: string }
  | { type: 'error'; id: number | null; message: string }
  | {
      type: 'prediction';
      id: number;
      key: string;
      width: number;
      height: number;
      /** Class probabilities HWC, 0..255. */
      probs: Uint8Array;
      steps: number;
      totalSteps: number;
      loss: number | null;
      trainMs: number;
      predictMs: number;
    };
