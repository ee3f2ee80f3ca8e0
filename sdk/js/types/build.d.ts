export declare const DEFAULT_WIT: string;
export declare const LANGUAGE_SECTION: string;
export declare class BuildError extends Error {}
/** Builds a handler module into a Keyhaven extension component. */
export declare function build(options: { entry: string; output: string; wit?: string; optSize?: boolean; minify?: boolean }): Promise<{
  output: string;
  bytes: number;
  handlers: string[];
  world: string[];
  sha256: string;
  milliseconds: number;
}>;
