/** The esbuild options shared by both bundle formats. */
export declare const bundleOptions: Record<string, unknown>
/** The built formats: [format, output file]. */
export declare const bundleFormats: readonly (readonly [string, string])[]
/** Builds both bundles; with `write: false` nothing is written and the outputs' text is returned. */
export declare function buildBundle(options?: {
  write?: boolean
}): Promise<{ format: string; path: string; text: string; inputs: string[] }[]>
