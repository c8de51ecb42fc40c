/**
 * The demo survey: a small simulated campaign (template and search epochs with transients) whose
 * field straddles a rings-skymap patch boundary, so that association runs in two patches and the
 * "no duplicate diaObjects across patch boundaries" rule is exercised.
 */
import { smallCamera } from '../../sim/camera.js';
import { smallPreset, type SurveyConfig } from '../../sim/survey.js';
import { dc2SkyMap } from '../../sky/skymap.js';
import { UsageError } from '../../util/errors.js';

export type DemoSize = 'tiny' | 'small';

export const DEMO_SIZES: Record<DemoSize, { nccd: number; width: number; height: number; templateEpochs: number; searchEpochs: number; transients: number }> = {
  tiny: { nccd: 2, width: 768, height: 768, templateEpochs: 1, searchEpochs: 2, transients: 10 },
  small: { nccd: 4, width: 1024, height: 1024, templateEpochs: 2, searchEpochs: 3, transients: 16 },
};

export function parseDemoSize(s: string | undefined): DemoSize {
  const v = s ?? 'small';
  if (v !== 'tiny' && v !== 'small') throw new UsageError(`--size: expected small or tiny, got '${v}'`);
  return v;
}

/**
 * A field centre on the boundary between two patches (in y, i.e. roughly along Dec) of the DC2
 * rings skymap near (150.1, 2.2): every CCD of the small camera straddles it.
 */
export function demoFieldCentre(): [number, number] {
  const map = dc2SkyMap();
  const tract = map.findTract(150.1, 2.2);
  const patch = tract.findPatch(150.1, 2.2);
  const x = patch.inner.minX + patch.inner.width / 2;
  // The lower edge of this patch's inner box (= the upper edge of the one below), or its upper
  // edge when the patch is the first row of the tract.
  const y = patch.inner.minY > 0 ? patch.inner.minY : patch.inner.minY + patch.inner.height;
  return tract.pixelToSky(x, y - 0.5);
}

/** The survey configuration of `tessera demo --size SIZE --seed SEED`. */
export function demoSurveyConfig(size: DemoSize, seed: number | string = 1): SurveyConfig {
  const s = DEMO_SIZES[size];
  const [ra, dec] = demoFieldCentre();
  const cfg = smallPreset({ seed, fieldRaDeg: ra, fieldDecDeg: dec, bands: ['r'] });
  cfg.camera = smallCamera({ nccd: s.nccd, width: s.width, height: s.height });
  cfg.templateEpochs = s.templateEpochs;
  cfg.searchEpochs = s.searchEpochs;
  cfg.sources = { ...cfg.sources, transients: s.transients };
  return cfg;
}
