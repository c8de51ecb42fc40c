/** Image planes, statistics, FFT, convolution and resampling: the foundation for every image stage. */
export * from './masked-image.js';
export * from './stats.js';
export * from './fft.js';
export * from './convolve.js';
export * from './resample.js';
