/**
 * Which implementation runs a kernel. gapseg's own kernels are the default; the stock TF.js
 * routes stay reachable so that tests and benchmarks can compare the two in one process. A
 * setting of the engine, changed only through these functions (never read from the
 * environment on a hot path).
 */
export interface KernelRoutes {
  /** gapseg's SIMD kernels (false: their JavaScript versions). */
  simd: boolean;
  /** Stride-1 Conv2D, FusedConv2D and Conv2DBackpropInput: gapseg's direct kernel or XNNPACK's. */
  conv: 'gapseg' | 'xnnpack';
  /** Stride-1 3x3 convolutions (forward and input gradient) on gapseg's kernel: Winograd's F(2x2, 3x3) or direct. */
  conv3x3: 'winograd' | 'direct';
  /** Stride-1 filter gradient: gapseg's direct kernel or as a convolution (the route strides > 1 take). */
  filterGradient: 'gapseg' | 'conv';
  /** Depthwise conv forward: gapseg's SIMD kernel or XNNPACK's (the gradients have no stock kernel on wasm). */
  depthwise: 'gapseg' | 'xnnpack';
}

export const DEFAULT_ROUTES: Readonly<KernelRoutes> = {
  simd: true,
  conv: 'gapseg',
  conv3x3: 'winograd',
  filterGradient: 'gapseg',
  depthwise: 'gapseg',
};

let current: KernelRoutes = { ...DEFAULT_ROUTES };

/** The routes in force. */
export function kernelRoutes(): Readonly<KernelRoutes> {
  return current;
}

/** Change some routes (the others stay). */
export function setKernelRoutes(routes: Partial<KernelRoutes>): void {
  current = { ...current, ...routes };
}

/** Run f with some routes changed, then restore them (also when f throws). */
export function withKernelRoutes<T>(routes: Partial<KernelRoutes>, f: () => T): T {
  const before = current;
  setKernelRoutes(routes);
  try {
    return f();
  } finally {
    current = before;
  }
}
