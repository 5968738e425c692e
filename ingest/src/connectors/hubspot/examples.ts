import type { TemplateExample } from '@muxly/schemas';

export const hubspotExamples: TemplateExample[] = [
  {
    id: 'hubspot-contacts-changed',
    title: 'HubSpot contacts changed since the last sync',
    description:
      'Every 15 minutes, reads the contacts modified since the stored cursor (lastmodifieddate) as records, with lifecycle stage and country as dimensions.',
    config: {
      objectType: 'contacts',
      properties: ['email', 'firstname', 'lastname', 'lifecyclestage', 'country'],
      dimensions: ['lifecyclestage', 'country'],
    },
    job: { schedule: '*/15 * * * *' },
    request: { name: 'HubSpot contacts', credentials: { accessToken: 'pat-na1-replace-with-the-private-app-token' } },
  },
];
