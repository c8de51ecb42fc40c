/** Task kinds and parameters of the transient campaign (JSON in the task store). */

export const KIND_CALIBRATE = 'calibrate';
export const KIND_DIFF = 'diff';
export const KIND_ASSOCIATE = 'associate';
export const KIND_FORCED = 'forced';
export const KIND_REPORT = 'report';

/** One CCD of one exposure, as the tasks name it. */
export interface CcdRef {
  expnum: number;
  ccd: number;
  ccdName: string;
  band: string;
  mjd: number;
}

export type RegionRef =
  | { kind: 'patch'; tract: number; patchX: number; patchY: number; name: string }
  | { kind: 'brick'; brick: string; name: string };

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
}

export interface AssociateParams {
  region: RegionRef;
  /** Search CCDs whose diaSource tables feed this region. */
  diffs: CcdRef[];
  radiusArcsec: number;
}

export interface ForcedParams {
  ccd: CcdRef;
  /** Regions whose diaObjects are measured on this CCD's difference image. */
  regions: RegionRef[];
}

export interface ReportParams {
  title: string;
}
