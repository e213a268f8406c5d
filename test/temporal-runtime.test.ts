import { inject, describe, expect, it } from 'vitest';
import { connectTemporal, ensureSearchAttributes } from '../src/app/runtime/temporal.js';
import { SEARCH_ATTRIBUTES } from '../src/contracts/search-attributes.js';

describe('temporal runtime', () => {
  it('has the skill search attributes registered on the test server', async () => {
    const rt = await connectTemporal(inject('temporalAddress'));
    try {
      const { customAttributes } = await rt.connection.operatorService.listSearchAttributes({ namespace: 'default' });
      for (const name of SEARCH_ATTRIBUTES) expect(customAttributes).toHaveProperty(name);
      // Registering again is a no-op.
      expect(await ensureSearchAttributes(rt.connection, 'default')).toEqual([]);
    } finally {
      await rt.close();
    }
  });
});
