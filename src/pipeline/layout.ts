import { join } from 'node:path';
import { TesseraError } from '../util/errors.js';

/**
 * The fixed layout of datasets in a repository: one path template per dataset, relative to the
 * repository root. `{name}` is replaced by the data ID's value; `{name:N}` zero-pads a number to
 * N digits; `{name[a:b]}` takes characters a..b-1 (bricks are grouped by their first 3 digits).
 */
export const DATASETS = {
  raw: 'raw/{expnum}/{filename}',
  calexp: 'calexp/{band}/{expnum}/calexp-{expnum}-{ccd:2}.fits.fz',
  src: 'src/{band}/{expnum}/src-{expnum}-{ccd:2}.fits',
  diff: 'diff/{band}/{expnum}/diff-{expnum}-{ccd:2}.fits.fz',
  diaSrc: 'diaSrc/{band}/{expnum}/diaSrc-{expnum}-{ccd:2}.fits',
  diaObject: 'diaObject/{tract}/diaObject-{tract}-{patch}.parquet',
  forced: 'forced/{band}/{expnum}/forced-{expnum}-{ccd:2}.fits',
  coadd: 'coadd/{brick[0:3]}/{brick}/coadd-{brick}-{band}.fits.fz',
  catalogs: 'catalogs/{brick[0:3]}/{brick}/tractor-{brick}.fits',
  logs: 'logs/{queue}/{key}.log',
} as const;

export type Dataset = keyof typeof DATASETS;
export type DataId = Record<string, string | number>;

/** The data-ID keys a dataset's template needs. */
export function datasetKeys(dataset: Dataset): string[] {
  return [...DATASETS[dataset].matchAll(/\{(\w+)/g)].map((m) => m[1]!).filter((k, i, a) => a.indexOf(k) === i);
}

/** Path of one dataset instance: `datasetPath('/repo', 'calexp', {band:'r', expnum: 668439, ccd: 5})`. */
export function datasetPath(repo: string, dataset: Dataset, dataId: DataId): string {
  const template = DATASETS[dataset];
  if (!template) throw new TesseraError(`unknown dataset '${String(dataset)}' (known: ${Object.keys(DATASETS).join(', ')})`);
  const rel = template.replace(/\{(\w+)(?::(\d+)|\[(\d+):(\d+)\])?\}/g, (_m, name: string, pad?: string, a?: string, b?: string) => {
    const v = dataId[name];
    if (v === undefined || v === '') throw new TesseraError(`dataset ${dataset}: data ID lacks '${name}' (needs ${datasetKeys(dataset).join(', ')})`);
    let s = String(v);
    if (dataset !== 'logs' && (s.includes('/') || s === '.' || s === '..')) throw new TesseraError(`dataset ${dataset}: '${name}' value '${s}' cannot be part of a path`);
    if (s.includes('..')) throw new TesseraError(`dataset ${dataset}: '${name}' value '${s}' cannot be part of a path`);
    if (pad !== undefined) s = s.padStart(Number(pad), '0');
    if (a !== undefined) s = s.slice(Number(a), Number(b));
    return s;
  });
  return join(repo, rel);
}
