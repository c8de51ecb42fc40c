/** HEALPix-partitioned Gaia-like reference catalogs: build, query by cone or footprint, epoch propagation. */
export * from './columns.js';
export * from './epoch.js';
export { buildRefcat, Refcat, RefcatCoverageError, writeRefcatFits, refcatCsv, emptyTable, tableColumns, MANIFEST, REFCAT_FORMAT, type RefcatManifest, type BuildOptions, type QueryOptions } from './store.js';
