import { jest } from '@jest/globals';

// Integration tests wait on brokers, rebalances and real peers. jest's testTimeout is a global
// option only, so each tier sets its own deadline in its setup file.
jest.setTimeout(90_000);
