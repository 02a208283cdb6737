// Original file: proto/dlphys.proto


export interface SubmitSlurmRequest {
  'sweep'?: (string);
  /**
   * The options (coordinator/slurm/options.ts SlurmOptions) as JSON.
   */
  'options_json'?: (string);
  /**
   * Write nothing and submit nothing: return the script.
   */
  'dry_run'?: (boolean);
}

export interface SubmitSlurmRequest__Output {
  'sweep': (string);
  /**
   * The options (coordinator/slurm/options.ts SlurmOptions) as JSON.
   */
  'options_json': (string);
  /**
   * Write nothing and submit nothing: return the script.
   */
  'dry_run': (boolean);
}
