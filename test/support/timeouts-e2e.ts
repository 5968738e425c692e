import { jest } from '@jest/globals';

// Whole-stack tests start processes, restart them and wait for every event (see timeouts.ts).
jest.setTimeout(240_000);
