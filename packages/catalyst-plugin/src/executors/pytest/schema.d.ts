export interface PytestExecutorSchema {
  args?: string[];
  /** Command-line arguments after `--`, filled in by Nx (`$default: { $source: 'unparsed' }`). */
  __unparsed__?: string[];
}
