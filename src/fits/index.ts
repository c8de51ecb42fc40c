/** The FITS room: headers, reading, writing, checksums, and the FILE[HDU] syntax. */
export { Header, parseCard, BLOCK, type Card, type FitsValue } from './header.js';
export { FitsReader, dataUnitBytes, type HduInfo, type HduType, type FitsImage, type ReadImageOptions } from './reader.js';
export { type FitsTable, type FitsColumn, type ColumnData, parseBinaryTform, parseTdim } from './table.js';
export { encodeFits, writeFits, type HduInput, type ColumnInput, type WriteOptions } from './writer.js';
export { onesSum, addSums, encodeChecksum, setChecksums, verifySums, type ChecksumResult, type SumStatus } from './checksum.js';
export { decodePixels, encodePixels, bitpixFor, swapInPlace, type PixelArray, type Scaling } from './pixels.js';
export { parseFileHdu, type FileHdu } from './filehdu.js';
export { verifyFile, type VerifyReport, type HduReport } from './verify.js';
export {
  compressImage, decompressImage, imageHeaderOf, isCompressedImage, CodecError,
  type CompressOptions, type CompressionType, type DitherMethod,
} from './compress/index.js';
