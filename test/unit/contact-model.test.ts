import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  applyChanges,
  EMPTY_CONTACT,
  hasIdentifier,
  normalizeInput,
  sameState,
} from '../../src/contacts/contact.model.js';

describe('normalizeInput', () => {
  it('changes only the fields present (PATCH semantics)', () => {
    assert.deepEqual(normalizeInput({}, 'SE'), { changes: {}, errors: {} });
    assert.deepEqual(normalizeInput({ lastName: 'Doe' }, 'SE').changes, { lastName: 'Doe' });
  });

  it('turns null into the cleared value of each field', () => {
    const { changes, errors } = normalizeInput(
      {
        firstName: null,
        email: null,
        phone: null,
        linkedInUrl: null,
        primaryLanguage: null,
        tags: null,
        strategy: null,
        blocked: null,
        externalRefs: null,
        connections: null,
        address1: null,
        country: null,
        dateOfBirth: null,
        dnd: null,
        dndSettings: null,
        customFields: null,
      },
      null,
    );
    assert.deepEqual(errors, {});
    assert.deepEqual(changes, {
      customFields: null,
      emailKey: null,
      emailKeys: [],
      address1: null,
      country: null,
      dateOfBirth: null,
      dnd: false,
      dndSettings: null,
      phoneKey: null,
      firstName: null,
      email: null,
      emails: [],
      phone: null,
      phones: [],
      linkedInUrl: null,
      primaryLanguage: null,
      tags: [],
      strategy: null,
      blocked: false,
      externalRefs: [],
      connections: [],
    });
  });

  it('trims names and treats blank ones as absent values', () => {
    const { changes } = normalizeInput({ firstName: '  Ada ', lastName: '   ' }, null);
    assert.deepEqual(changes, { firstName: 'Ada', lastName: null });
  });

  it('lower-cases the language and external reference namespaces, keeping ids as given', () => {
    const { changes } = normalizeInput(
      { primaryLanguage: 'SV', externalRefs: [{ namespace: 'HubSpot', id: 'AbC' }] },
      null,
    );
    assert.equal(changes.primaryLanguage, 'sv');
    assert.deepEqual(changes.externalRefs, [{ namespace: 'hubspot', id: 'AbC' }]);
  });

  it('reports external references that are duplicates once namespaces are lower-cased', () => {
    const { errors } = normalizeInput(
      {
        externalRefs: [
          { namespace: 'crm', id: '1' },
          { namespace: 'crm', id: '2' },
          { namespace: 'CRM', id: '1' },
        ],
      },
      null,
    );
    assert.deepEqual(Object.keys(errors), ['externalRefs[2]']);
  });

  describe('email and emails', () => {
    it('makes the first entry of emails the primary email', () => {
      const { changes } = normalizeInput(
        { emails: [{ address: 'a@x.se', type: 'work' }, { address: 'b@x.se' }] },
        null,
      );
      assert.equal(changes.email, 'a@x.se');
      assert.deepEqual(changes.emails, [
        { address: 'a@x.se', type: 'work', isPrimary: true },
        { address: 'b@x.se', type: null, isPrimary: false },
      ]);
    });

    it('makes email alone the only entry of emails', () => {
      const { changes } = normalizeInput({ email: 'a@x.se' }, null);
      assert.equal(changes.email, 'a@x.se');
      assert.deepEqual(changes.emails, [{ address: 'a@x.se', type: null, isPrimary: true }]);
    });

    it('marks the entry equal to email (case-insensitively) as primary and puts it first', () => {
      const { changes } = normalizeInput(
        { email: 'B@x.se', emails: [{ address: 'a@x.se' }, { address: 'b@X.se', type: 'personal' }] },
        null,
      );
      assert.deepEqual(changes.emails, [
        { address: 'b@X.se', type: 'personal', isPrimary: true },
        { address: 'a@x.se', type: null, isPrimary: false },
      ]);
      assert.equal(changes.email?.toLowerCase(), 'b@x.se');
    });

    it('adds an email missing from emails as the primary entry', () => {
      const { changes } = normalizeInput({ email: 'c@x.se', emails: [{ address: 'a@x.se' }] }, null);
      assert.equal(changes.email, 'c@x.se');
      assert.deepEqual(changes.emails, [
        { address: 'c@x.se', type: null, isPrimary: true },
        { address: 'a@x.se', type: null, isPrimary: false },
      ]);
    });

    it('clears both when emails is empty and email absent', () => {
      const { changes } = normalizeInput({ emails: [] }, null);
      assert.deepEqual([changes.email, changes.emails], [null, []]);
    });

    it('reports duplicate addresses, compared case-insensitively', () => {
      const { errors } = normalizeInput({ emails: [{ address: 'a@x.se' }, { address: 'A@X.se' }] }, null);
      assert.deepEqual(Object.keys(errors), ['emails[1].address']);
    });
  });

  describe('phone and phones', () => {
    it('normalizes every number with the region and makes the first the primary phone', () => {
      const { changes } = normalizeInput(
        { phones: [{ number: '070-123 45 67', type: 'mobile' }, { number: 'ext. 12' }] },
        'SE',
      );
      assert.equal(changes.phone, '+46701234567');
      assert.deepEqual(changes.phones, [
        { number: '+46701234567', type: 'mobile', isPrimary: true },
        { number: 'ext. 12', type: null, isPrimary: false },
      ]);
    });

    it('makes phone alone the only entry of phones', () => {
      const { changes } = normalizeInput({ phone: '070-123 45 67' }, 'SE');
      assert.deepEqual(changes.phones, [{ number: '+46701234567', type: null, isPrimary: true }]);
      assert.equal(changes.phone, '+46701234567');
    });

    it('finds phone in phones by its normalized form', () => {
      const { changes } = normalizeInput(
        { phone: '+46 8 765 43 21', phones: [{ number: '0701234567' }, { number: '08-765 43 21', type: 'work' }] },
        'SE',
      );
      assert.equal(changes.phone, '+4687654321');
      assert.deepEqual(changes.phones, [
        { number: '+4687654321', type: 'work', isPrimary: true },
        { number: '+46701234567', type: null, isPrimary: false },
      ]);
    });

    it('reports numbers that are duplicates once normalized', () => {
      const { errors } = normalizeInput({ phones: [{ number: '+46701234567' }, { number: '070-123 45 67' }] }, 'SE');
      assert.deepEqual(Object.keys(errors), ['phones[1].number']);
    });
  });

  describe('connections', () => {
    const company = () => randomUUID();

    it('keeps them in order with lower-case ids and trimmed job titles', () => {
      const a = company().toUpperCase();
      const { changes, errors } = normalizeInput(
        { connections: [{ company: { kind: 'existing', id: a }, jobTitle: ' CEO ', primary: true }] },
        null,
      );
      assert.deepEqual(errors, {});
      assert.deepEqual(changes.connections, [{ companyId: a.toLowerCase(), jobTitle: 'CEO', isPrimary: true }]);
    });

    it('needs exactly one primary connection', () => {
      for (const flags of [
        [false, false],
        [true, true],
        [undefined, false],
      ]) {
        const { errors } = normalizeInput(
          {
            connections: flags.map((primary) => ({ company: { kind: 'existing' as const, id: company() }, primary })),
          },
          null,
        );
        assert.deepEqual(Object.keys(errors), ['connections'], JSON.stringify(flags));
      }
      assert.deepEqual(normalizeInput({ connections: [] }, null).errors, {});
    });

    it('reports the same company twice', () => {
      const id = company();
      const { errors } = normalizeInput(
        {
          connections: [
            { company: { kind: 'existing', id }, primary: true },
            { company: { kind: 'existing', id: id.toUpperCase() } },
          ],
        },
        null,
      );
      assert.deepEqual(Object.keys(errors), ['connections[1].company.id']);
    });
  });
});

describe('contact state', () => {
  it('has an identifier when a name, email or phone is set', () => {
    assert.equal(hasIdentifier(EMPTY_CONTACT), false);
    assert.equal(hasIdentifier({ ...EMPTY_CONTACT, tags: ['vip'], strategy: 'x' }), false);
    for (const field of ['firstName', 'lastName', 'email', 'phone'] as const) {
      assert.equal(hasIdentifier({ ...EMPTY_CONTACT, [field]: 'x' }), true, field);
    }
  });

  it('applies changes over the current state and tells equal states apart from changed ones', () => {
    const current = applyChanges(EMPTY_CONTACT, { firstName: 'Ada', tags: ['a'] });
    assert.equal(current.firstName, 'Ada');
    assert.equal(current.lastName, null);
    assert.equal(sameState(current, applyChanges(current, { firstName: 'Ada' })), true);
    assert.equal(sameState(current, applyChanges(current, { tags: ['a', 'b'] })), false);
    assert.equal(sameState(current, applyChanges(current, { blocked: true })), false);
  });
});
