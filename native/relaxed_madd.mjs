// Renumbers clang 14's f32x4.fma (0xfd 0xaf, the relaxed-SIMD proposal's early opcode) to the
// standard f32x4.relaxed_madd (0xfd 0x105), in place. The instruction offsets come from
// llvm-objdump's disassembly (relative to the code section's contents); each one is checked.
//   node native/relaxed_madd.mjs file.wasm
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const file = process.argv[2];
const bytes = fs.readFileSync(file);
const offsets = execFileSync('llvm-objdump-14', ['-d', file], { encoding: 'utf8' })
  .split('\n')
  .filter((line) => /\bf32x4\.fma\b/.test(line))
  .map((line) => parseInt(line.trim().split(':')[0], 16));
// Find the code section (id 10): a section is its id, a LEB128 size, then its contents.
let pos = 8;
let code = -1;
const uleb = () => {
  let result = 0;
  let shift = 0;
  let byte;
  do {
    byte = bytes[pos++];
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return result;
};
while (pos < bytes.length) {
  const id = bytes[pos++];
  const size = uleb();
  if (id === 10) code = pos;
  pos += size;
}
if (code < 0 || offsets.length === 0) throw new Error(`${file}: no code section or no f32x4.fma`);
for (const off of offsets) {
  const at = code + off;
  if (bytes[at] !== 0xfd || bytes[at + 1] !== 0xaf || bytes[at + 2] !== 0x01) throw new Error(`${file}: no f32x4.fma at ${off}`);
  bytes[at + 1] = 0x85;
  bytes[at + 2] = 0x02;
}
fs.writeFileSync(file, bytes);
console.log(`${file}: ${offsets.length} f32x4.fma -> f32x4.relaxed_madd`);
