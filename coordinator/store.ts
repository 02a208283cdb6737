/** The store lives in coordinator/store/ (index.ts is its entry); this path is kept for older imports. */
export * from './store/index.js';
