#!/usr/bin/env node
// Loads the TypeScript sources through tsx, so the package runs from a clean clone without a build step.
import { register } from 'tsx/esm/api';

register();
const { dlphysProgram } = await import('../lib/cli/main.ts');
const { runProgram } = await import('../lib/cli/command.ts');
// The dashboard's command lives in tui/, which lib/ never imports: it joins the program here.
const { dashDirCommand } = await import('../tui/cli/dash_dir.ts');
await runProgram(dlphysProgram().addCommand(dashDirCommand()), process.argv.slice(2));
