/** PSF models: PSFEx-like pixel basis with polynomial spatial variation. */
export { PsfModel, lanczos3, nPolyTerms, polyTerms, stampShape } from './model.js';
export type { PsfModelInit, PsfShape } from './model.js';
export { fitPsf, minStarsForDegree, solveSym } from './fit.js';
export type { PsfImage, PsfStarInput, PsfFitOptions, PsfFitResult } from './fit.js';
export { selectPsfStars } from './select.js';
export type { PsfCandidates, PsfSelectOptions, PsfSelection } from './select.js';
export { psfPhotometry, noiseEquivalentArea } from './phot.js';
export type { PsfPhotResult } from './phot.js';
export { psfToHdu, psfFromHdu } from './io.js';
export type { PsfHdu, PsfHduCard, KeywordSource } from './io.js';
