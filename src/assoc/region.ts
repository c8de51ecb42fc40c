/**
 * Association regions: the sky unit in which diaSources are associated into diaObjects. A
 * region owns a source when the source lies in the region's INNER part, and the inner parts of
 * neighbouring regions tile the sky without overlap, so no diaObject is created twice:
 *  - a rings-skymap patch owns what `findTract` assigns to its tract and whose nearest tract
 *    pixel lies in the patch's inner box (as dia_pipe's associationDriver selects diaSrcs);
 *  - a Legacy Surveys brick owns its RA/Dec box (brick_primary).
 */
import { brickById, brickByName, inBrickBox, type Brick } from '../sky/bricks.js';
import { dc2SkyMap, type RingsSkyMap } from '../sky/skymap.js';
import { TesseraError } from '../util/errors.js';

export interface AssocRegion {
  /** 'patch' or 'brick'. */
  kind: 'patch' | 'brick';
  /** Integer id (< 9·10⁶) used as the high part of diaObject ids. */
  id: number;
  /** Human name: "4849:5,5" or a brick name. */
  name: string;
  /** Data-ID fragments for dataset paths. */
  dataId: Record<string, string | number>;
  /** A point near the region centre (tangent point for association). */
  center: [number, number];
  /** True when (ra, dec) lies in the region's inner part. */
  contains(raDeg: number, decDeg: number): boolean;
}

/** Region of patch (px, py) of a tract of a rings skymap (default DC2). Id = tract·100 + patch index. */
export function patchRegion(tractId: number, px: number, py: number, map: RingsSkyMap = dc2SkyMap()): AssocRegion {
  const tract = map.tract(tractId);
  const patch = tract.patch(px, py);
  const inner = patch.inner;
  const x0 = inner.minX, y0 = inner.minY, x1 = inner.minX + inner.width, y1 = inner.minY + inner.height;
  const center = tract.pixelToSky(x0 + inner.width / 2 - 0.5, y0 + inner.height / 2 - 0.5);
  if (patch.sequentialIndex >= 100) throw new TesseraError(`patch index ${patch.sequentialIndex} of tract ${tractId} does not fit the diaObject id scheme (< 100 patches per tract)`);
  return {
    kind: 'patch',
    id: tractId * 100 + patch.sequentialIndex,
    name: `${tractId}:${patch.name}`,
    dataId: { tract: tractId, patch: patch.name },
    center,
    contains(ra: number, dec: number): boolean {
      if (!(dec >= -90 && dec <= 90) || !Number.isFinite(ra)) return false;
      if (map.findTract(ra, dec).id !== tractId) return false;
      const p = tract.skyToPixel(ra, dec);
      if (!p) return false;
      const x = Math.floor(p[0] + 0.5), y = Math.floor(p[1] + 0.5);
      return x >= x0 && x < x1 && y >= y0 && y < y1;
    },
  };
}

/** Region of a brick (by object, id or name). Id = brick id. */
export function brickRegion(b: Brick | number | string): AssocRegion {
  const brick = typeof b === 'number' ? brickById(b) : typeof b === 'string' ? brickByName(b) : b;
  return {
    kind: 'brick',
    id: brick.brickid,
    name: brick.brickname,
    dataId: { brick: brick.brickname },
    center: [brick.ra, brick.dec],
    contains: (ra: number, dec: number) => inBrickBox(brick, ra, dec),
  };
}

/** The patch region owning a position (rings skymap). */
export function patchRegionFor(raDeg: number, decDeg: number, map: RingsSkyMap = dc2SkyMap()): AssocRegion {
  const tract = map.findTract(raDeg, decDeg);
  const patch = tract.findPatch(raDeg, decDeg);
  return patchRegion(tract.id, patch.x, patch.y, map);
}

/** Parse "TRACT:X,Y" (patch) or a brick name. */
export function parseRegion(spec: string, map: RingsSkyMap = dc2SkyMap()): AssocRegion {
  const m = /^(\d+):(\d+),(\d+)$/.exec(spec.trim());
  if (m) return patchRegion(Number(m[1]), Number(m[2]), Number(m[3]), map);
  if (/^\d{4}[pm]\d{3}$/.test(spec.trim())) return brickRegion(spec.trim());
  throw new TesseraError(`region '${spec}': expected TRACT:X,Y (a rings-skymap patch) or a brick name like 0345p025`);
}
