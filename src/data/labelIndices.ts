/**
 * Encoded label maps: one class index per pixel, 0..K-1 for the real classes and VOID_INDEX
 * where nobody labelled. Browser-safe (the viewer and the metrics use it).
 */

/** Index used for void pixels in encoded label arrays (class indices are 0..K-1). */
export const VOID_INDEX = 255;

/** Most real classes a description may have: indices must stay below VOID_INDEX. */
export const MAX_CLASSES = 254;
