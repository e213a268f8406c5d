#!/usr/bin/env node
/** Demo HR MCP server: stdio by default, `--http <port>`, data under `--state <dir>`. */
import { demoMain } from '../serve.js';
import { createHrServer, HR_AUTH, openHr } from './server.js';

await demoMain({ name: 'hr', open: openHr, create: createHrServer, auth: HR_AUTH });
