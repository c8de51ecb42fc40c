/** The survey simulator: cameras, survey plans, sky catalogs, rendering, CP-like files and truth. */
export { decamCamera, smallCamera, degPerMm, type CameraModel, type CcdSpec, type SmallCameraOptions } from './camera.js';
export { BAND_INFO, BANDS, parseBands, starBandMag, gaiaErrors, type Band, type BandInfo } from './bands.js';
export { CcdGeometry, type Pointing, type TpvParams } from './geometry.js';
export {
  planSurvey, searchWindow, smallPreset, decamPreset, presets, mjdToIso,
  type SurveyConfig, type SurveyPlan, type ExposurePlan, type SourceDensities, type ArtefactRates, type PresetOptions, type Role,
} from './survey.js';
export {
  generateCatalog, starMagAt, starPosAt, transientMagAt, transientRelFlux, asteroidPosAt, REF_EPOCH_MJD, REF_EPOCH_YR,
  TRANSIENT_HOSTED, TRANSIENT_NUCLEAR, TRANSIENT_HOSTLESS, type SkyCatalog,
} from './sources.js';
export { psfShapeAt, psfStamp, addPointSource, addGalaxy, FWHM_PER_ALPHA, type PsfShape } from './psf.js';
export { renderCcd, makeRenderBuffers, bleed, MASK_BITS, SOURCE_TYPE, type RenderedCcd, type CcdTruthRows, type PsfTruth, type RenderBuffers } from './render.js';
export { makeRefcat, refcatColumns, type RefcatColumns } from './refcat.js';
export { exposureFileName, type ProductKind } from './output.js';
export { simulateSurvey, type SimulateOptions, type SimulationResult, type SimulationManifest, type ManifestExposure } from './simulate.js';
export { Rng } from './rng.js';
export { openSimulation, Simulation, type CcdTruth, type SourceRows } from './truth.js';
