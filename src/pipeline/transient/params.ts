/** Task kinds and parameters of the transient campaign (JSON in the task store). */

export const KIND_CALIBRATE = 'calibrate';
export const KIND_DIFF = 'diff';
/** associate, forced and products are src/pipeline/transient/assoc-tasks.ts's kinds. */

/** One CCD of one exposure, as the tasks name it. */
export interface CcdRef {
  expnum: number;
  ccd: number;
  ccdName: string;
  band: string;
  mjd: number;
}

export interface CalibrateParams extends CcdRef {
  image: string;
  weight?: string;
  mask?: string;
  hdu: number;
  refcat: string;
}

export interface DiffParams {
  search: CcdRef;
  /** Template candidates (their calibrate tasks are dependencies); chosen at run time by quality. */
  templates: CcdRef[];
  minSeparationDays: number;
  /** Matched-filter S/N threshold for diaSources. */
  threshold: number;
  /** Reference catalog directory: DIST_REF (pixels to the nearest reference star) of each diaSource. */
  refcat?: string;
}

