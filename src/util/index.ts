export * from './errors.js';
export * from './atomic.js';
export * from './version.js';
export * from './fs.js';
