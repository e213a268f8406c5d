#!/usr/bin/env node
/** Demo core-banking MCP server: stdio by default, `--http <port>`, data under `--state <dir>`. */
import { demoMain } from '../serve.js';
import { CORE_BANKING_AUTH, createCoreBankingServer, openCoreBanking } from './server.js';

await demoMain({ name: 'core-banking', open: openCoreBanking, create: createCoreBankingServer, auth: CORE_BANKING_AUTH });
