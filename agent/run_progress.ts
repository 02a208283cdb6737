import { isProgramJob } from '../lib/sweep/program_sweep.js';

/**
 * How far a dlphys run has got, read from the metrics rows its runner streams: enough to say when
 * it will end (agent/slot.ts leases the slot's next run ahead of that). A program run's length is
 * unknown: it never says it ends soon.
 */
export class RunProgress {
  /** train.steps of the run's config; null for a program run or a config that does not say. */
  private readonly totalSteps: number | null;
  private firstStep = 0;
  private firstStepAt = 0;
  private lastStep = 0;
  private lastStepAt = 0;

  /** `config`: the leased run's config, parsed (null when it is not one). */
  constructor(config: Record<string, unknown> | null) {
    this.totalSteps = plannedSteps(config);
  }

  /**
   * Its pace is known: two rows with steps have come. The first row's time is not a measure of
   * pace (it includes loading data, building the model and the first steps' warm-up).
   */
  get paced(): boolean {
    return this.lastStep > this.firstStep;
  }

  /** Notes the step of a metrics row; true when it is a new step. */
  note(line: string): boolean {
    if (this.totalSteps === null) return false;
    // The step alone, without parsing the row: this runs for every row.
    const step = /"step":(\d+)/.exec(line)?.[1];
    if (step === undefined || Number(step) <= this.lastStep) return false;
    this.lastStep = Number(step);
    this.lastStepAt = performance.now();
    if (this.firstStep === 0) [this.firstStep, this.firstStepAt] = [this.lastStep, this.lastStepAt];
    return true;
  }

  /**
   * The run will end within `ms`, by the pace of its steps since its first row; false while that is
   * unknown (fewer than two rows, or a program run).
   */
  endsWithin(ms: number): boolean {
    if (this.totalSteps === null || !this.paced) return false;
    const perStep = (this.lastStepAt - this.firstStepAt) / (this.lastStep - this.firstStep);
    return perStep * Math.max(0, this.totalSteps - this.lastStep) <= ms;
  }
}

/** train.steps of a dlphys run's config, or null (a program run, or a config that does not say). */
function plannedSteps(config: Record<string, unknown> | null): number | null {
  if (config === null || isProgramJob(config)) return null;
  const steps = (config as { train?: { steps?: unknown } }).train?.steps;
  return typeof steps === 'number' && steps > 0 ? steps : null;
}
