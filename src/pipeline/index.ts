/** The pipeline layer: repositories, dataset layout, stages as task kinds, ingest. */
export * from './layout.js';
export * from './repo.js';
export * from './kinds.js';
export * from './campaign.js';
