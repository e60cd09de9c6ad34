/** Unique constraints whose violation means a client conflict, and the request field each one guards. */
export const uniqueConstraintFields: Record<string, string> = {
  contacts_email_key: 'email',
  contact_external_refs_pkey: 'externalRefs',
  company_external_refs_pkey: 'externalRefs',
};
