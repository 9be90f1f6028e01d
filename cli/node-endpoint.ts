/**
 * comlink's adapter that makes a Node worker thread (or its parent port) a comlink endpoint. The
 * package ships its types as node-adapter.d.ts beside an .mjs file, which TypeScript does not pair,
 * so the value is imported from one and typed by the other here, once.
 */
// @ts-expect-error: typed below from the .d.ts that comlink ships for this module
import adapter from 'comlink/dist/esm/node-adapter.mjs';
import type nodeEndpointType from 'comlink/dist/esm/node-adapter';

export const nodeEndpoint: typeof nodeEndpointType = adapter;
