// The pthread worker of tfjs-backend-wasm's threaded SIMD build, as a file that Node's
// worker_threads can start (tfjs ships it only as a string, for browsers' blob URLs). Emscripten
// starts one of these per XNNPACK thread; see lib/backend/wasm/threads.ts.
'use strict';
const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');
// The string's "\n" escapes were turned into real newlines inside string literals; undo that.
new Function('require', '__filename', wasmWorkerContents.replace(/\n/g, '\\n'))(require, __filename);
