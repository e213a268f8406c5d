#!/usr/bin/env node
/** Demo credit-bureau MCP server: stdio by default, `--http <port>`, data under `--state <dir>`. */
import { demoMain } from '../serve.js';
import { CREDIT_BUREAU_AUTH, createCreditBureauServer, openCreditBureau } from './server.js';

await demoMain({ name: 'credit-bureau', open: openCreditBureau, create: createCreditBureauServer, auth: CREDIT_BUREAU_AUTH });
