//! Contract functions for contacts, salespeople, the catalogue (groups, templates, attachments),
//! campaigns and automatic recording. Each reads its map with the spec's field names and calls
//! one workflow; no rule is written here.

use std::collections::BTreeMap;

use rhai::{Blob, Dynamic, Engine, INT, Map, NativeCallContext};

use super::entry_hooks::{Custom, after_log, before_log, set_custom};
use crate::capability::{Access, Kind};
use crate::error::{RhaiResult, engine_error, error_value, placed_result};
use crate::session::Shared;
use crate::session::{acting_plugin, file_access, fire, group, notify, with_read, with_write};
use crate::value::{
    Fields, add_custom_fields, campaign_map, contact_map, group_map, salesperson_map, template_map,
    template_setup_map,
};
use rapport_engine::model::{
    AccountKind, AttachmentContent, Campaign, Contact, DocumentAction, DocumentEvent,
    DocumentParty, DocumentType, FieldDef, FieldRecord, FieldType, FieldValue, InteractionGroup,
    InteractionTemplate, Salesperson, normalize_code,
};
use rapport_engine::ops::{ContactDeleteOptions, ContactDeletion, DocumentProposal, EntrySource};
use rapport_engine::{Error, Result};

fn map_or_unit(m: Option<Map>) -> Dynamic {
    m.map_or(Dynamic::UNIT, Dynamic::from_map)
}

/// Applies the fields of `map` to a contact (built-in ones by name, the rest as custom fields;
/// a custom field set to `()` is removed).
fn apply_contact(c: &mut Contact, map: &Map, record: &str) -> Result<()> {
    let mut f = Fields::new(record, map);
    if let Some(v) = f.text("no")? {
        c.no = v;
    }
    if let Some(v) = f.text("name")? {
        c.name = v;
    }
    if let Some(v) = f.word("kind")? {
        c.kind = v;
    }
    if let Some(v) = f.text("company_no")? {
        c.company_no = v;
    }
    if let Some(v) = f.text("salesperson")? {
        c.salesperson = v;
    }
    if let Some(v) = f.text("language")? {
        c.language = v;
    }
    if let Some(v) = f.word("correspondence")? {
        c.correspondence = v;
    }
    for (key, slot) in [
        ("email", &mut c.email),
        ("phone", &mut c.phone),
        ("mobile", &mut c.mobile),
        ("city", &mut c.city),
        ("country", &mut c.country),
    ] {
        if let Some(v) = f.text(key)? {
            *slot = v;
        }
    }
    if let Some(v) = f.flag("exclude_from_segment")? {
        c.exclude_from_segment = v;
    }
    if let Some(v) = f.flag("privacy_blocked")? {
        c.privacy_blocked = v;
    }
    for (key, value) in f.custom()? {
        if value == FieldValue::Empty {
            c.custom.remove(&key);
        } else {
            c.custom.insert(key, value);
        }
    }
    Ok(())
}

fn template_from(map: &Map) -> Result<(InteractionTemplate, BTreeMap<String, FieldValue>)> {
    let mut f = Fields::new("template_define", map);
    let t = InteractionTemplate {
        code: f.text("code")?.unwrap_or_default(),
        group: f.text("group")?.unwrap_or_default(),
        description: f.text("description")?.unwrap_or_default(),
        unit_cost: f.amount("unit_cost")?.unwrap_or_default(),
        unit_duration: f.amount("unit_duration")?.unwrap_or_default(),
        flow: f.word("flow")?.unwrap_or_default(),
        initiated_by: f.word("initiated_by")?.unwrap_or_default(),
        campaign_no: f.text("campaign")?.unwrap_or_default(),
        campaign_target: f.flag("campaign_target")?.unwrap_or(false),
        campaign_response: f.flag("campaign_response")?.unwrap_or(false),
        correspondence: f
            .word("correspondence")?
            .unwrap_or(InteractionTemplate::spec_defaults().correspondence),
        ignore_contact_correspondence: f.flag("ignore_contact_correspondence")?.unwrap_or(false),
        default_language: f.text("default_language")?.unwrap_or_default(),
        wizard_action: f.word("wizard_action")?.unwrap_or_default(),
        languages: Vec::new(),
    };
    Ok((t, f.custom()?))
}

fn document_event(map: &Map) -> Result<DocumentEvent> {
    let mut f = Fields::new("record_document", map);
    let document_type: DocumentType = f.word("type")?.ok_or_else(|| {
        Error::required(
            "record_document",
            "type",
            format!("give the document type, one of {}", DocumentType::words()),
        )
    })?;
    let document_no = f.text("no")?.unwrap_or_default();
    let mut parties = Vec::new();
    for (key, kind) in [
        ("customer", AccountKind::Customer),
        ("vendor", AccountKind::Vendor),
        ("contact", AccountKind::Contact),
    ] {
        if let Some(no) = f.text(key)? {
            parties.push(DocumentParty { kind, no });
        }
    }
    let party = match parties.len() {
        1 => parties.remove(0),
        0 => {
            return Err(Error::required(
                "record_document",
                "customer, vendor or contact",
                "name the party the document is for",
            ));
        }
        _ => {
            return Err(Error::invalid(
                "record_document",
                "party",
                "names more than one party",
                "give one of customer, vendor or contact",
            ));
        }
    };
    let event = DocumentEvent {
        document_type,
        document_no,
        party,
        action: f.word("action")?.unwrap_or(DocumentAction::Printed),
        salesperson: f.text("salesperson")?,
        campaign: f.text("campaign")?.unwrap_or_default(),
        description: f.text("description")?.unwrap_or_default(),
        version_no: u32::try_from(f.int("version_no")?.unwrap_or(0)).map_err(|_| {
            Error::invalid(
                "record_document",
                "version_no",
                "is out of range",
                "give a version from 0",
            )
        })?,
    };
    // Data for plugin rules, not stored: the document's amount and the person it names.
    let _ = (f.raw("amount"), f.raw("person"));
    f.finish()?;
    Ok(event)
}

fn template_attach(
    shared: &Shared,
    code: &str,
    language: &str,
    content: &AttachmentContent,
) -> RhaiResult<INT> {
    with_write(shared, Access::write(Kind::Catalogue), |tx| {
        tx.template_attach(code, language, "", content)
    })
    .map(|n| n as INT)
}

/// The records whose data a field declaration belongs to (for plugin capabilities).
fn kind_of(record: FieldRecord) -> Kind {
    match record {
        FieldRecord::Contact => Kind::Contacts,
        FieldRecord::Salesperson => Kind::Salespeople,
        FieldRecord::Template => Kind::Catalogue,
        FieldRecord::Campaign => Kind::Campaigns,
        FieldRecord::Entry => Kind::Entries,
    }
}

fn field_record(word: &str) -> Result<FieldRecord> {
    word.parse().map_err(|problem| {
        Error::invalid("field_define", "record", problem, "name the kind of record")
    })
}

fn field_def_map(d: &FieldDef) -> Map {
    let mut m = Map::new();
    m.insert("record".into(), d.record.as_str().into());
    m.insert("name".into(), d.name.as_str().into());
    m.insert("type".into(), d.field_type.as_str().into());
    m.insert("description".into(), d.description.as_str().into());
    m
}

fn register_fields(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn(
        "field_define",
        move |ctx: NativeCallContext, map: Map| -> RhaiResult<String> {
            placed_result(&ctx, || -> RhaiResult<String> {
                let mut f = Fields::new("field_define", &map);
                let record = f.text("record").map_err(engine_error)?.ok_or_else(|| {
                    engine_error(Error::required(
                        "field_define",
                        "record",
                        format!("name the record: one of {}", FieldRecord::words()),
                    ))
                })?;
                let record = field_record(&record).map_err(engine_error)?;
                let name = f.text("name").map_err(engine_error)?.unwrap_or_default();
                let field_type = f.word("type").map_err(engine_error)?.ok_or_else(|| {
                    engine_error(Error::required(
                        "field_define",
                        "type",
                        format!("give the type: one of {}", FieldType::words()),
                    ))
                })?;
                let description = f
                    .text("description")
                    .map_err(engine_error)?
                    .unwrap_or_default();
                f.finish().map_err(engine_error)?;
                let def = FieldDef {
                    record,
                    name: name.clone(),
                    field_type,
                    description,
                };
                with_write(&s, Access::write(kind_of(record)), |tx| {
                    tx.field_define(&def)
                })?;
                Ok(name)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "field_remove",
        move |ctx: NativeCallContext, record: &str, name: &str| -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                let record = field_record(record).map_err(engine_error)?;
                with_write(&s, Access::write(kind_of(record)), |tx| {
                    tx.field_remove(record, name)
                })
            })
        },
    );
    let list = |s: &Shared, record: Option<FieldRecord>| -> RhaiResult<rhai::Array> {
        let records = record.map_or_else(|| FieldRecord::ALL.to_vec(), |r| vec![r]);
        let mut out = rhai::Array::new();
        for record in records {
            let defs = with_read(s, Access::read(kind_of(record)), |v| {
                v.declared_fields(record)
            })?;
            out.extend(defs.iter().map(|d| Dynamic::from_map(field_def_map(d))));
        }
        Ok(out)
    };
    let s = shared.clone();
    engine.register_fn(
        "fields",
        move |ctx: NativeCallContext| -> RhaiResult<rhai::Array> {
            placed_result(&ctx, || list(&s, None))
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "fields",
        move |ctx: NativeCallContext, record: &str| -> RhaiResult<rhai::Array> {
            placed_result(&ctx, || {
                let record = field_record(record).map_err(engine_error)?;
                list(&s, Some(record))
            })
        },
    );
}

pub(crate) fn register(engine: &mut Engine, shared: &Shared) {
    register_fields(engine, shared);
    // Contacts.
    let s = shared.clone();
    engine.register_fn(
        "contact_create",
        move |ctx: NativeCallContext, map: Map| -> RhaiResult<String> {
            placed_result(&ctx, || -> RhaiResult<String> {
                let mut c = Contact::default();
                apply_contact(&mut c, &map, "contact_create").map_err(engine_error)?;
                group(&s, || {
                    let no =
                        with_write(&s, Access::write(Kind::Contacts), |tx| tx.contact_create(c))?;
                    let created = with_read(&s, Access::read(Kind::Contacts), |v| {
                        Ok(v.contact(&no)?.as_ref().map(contact_map))
                    })?;
                    notify(&s, "on_contact_created", map_or_unit(created))?;
                    Ok(no)
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "contact",
        move |ctx: NativeCallContext, no: &str| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                with_read(&s, Access::read(Kind::Contacts), |v| {
                    let Some(c) = v.contact(no)? else {
                        return Ok(Dynamic::UNIT);
                    };
                    let mut m = contact_map(&c);
                    add_custom_fields(v, FieldRecord::Contact, &c.no, &mut m)?;
                    Ok(Dynamic::from_map(m))
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "contact_update",
        move |ctx: NativeCallContext, no: &str, map: Map| -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                with_write(&s, Access::write(Kind::Contacts), |tx| {
                    let mut c = tx
                        .view()
                        .contact(no)?
                        .ok_or_else(|| Error::not_found("contact", normalize_code(no)))?;
                    let record = format!("contact {}", c.no);
                    if map.contains_key("no") {
                        return Err(Error::invalid(
                            &record,
                            "no",
                            "cannot change",
                            "create a new contact instead",
                        ));
                    }
                    apply_contact(&mut c, &map, &record)?;
                    tx.contact_update(c)
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "contact_delete",
        move |ctx: NativeCallContext, no: &str| -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                with_write(&s, Access::write(Kind::Contacts), |tx| {
                    tx.contact_delete(no)
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "contact_delete",
        move |ctx: NativeCallContext, no: &str, options: Map| -> RhaiResult<Map> {
            placed_result(&ctx, || -> RhaiResult<Map> {
                let mut f = Fields::new("contact_delete", &options);
                let with_persons = f.flag("with_persons").map_err(engine_error)?;
                let dry_run = f.flag("dry_run").map_err(engine_error)?.unwrap_or(false);
                f.finish().map_err(engine_error)?;
                let options = ContactDeleteOptions {
                    with_persons: with_persons.unwrap_or(false),
                };
                let delete = || {
                    with_write(&s, Access::write(Kind::Contacts), |tx| {
                        tx.contact_delete_with(no, options)
                    })
                };
                let deletion = if dry_run {
                    crate::session::dry_run(&s, delete)?
                } else {
                    delete()?
                };
                Ok(deletion_map(&deletion, dry_run))
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "contact_summary",
        move |ctx: NativeCallContext, no: &str| -> RhaiResult<Map> {
            placed_result(&ctx, || -> RhaiResult<Map> {
                with_read(&s, Access::read(Kind::Statistics), |v| {
                    let sum = v.contact_summary(no)?;
                    let mut m = crate::value::statistics_map(&sum.statistics);
                    m.insert(
                        "last_interaction".into(),
                        sum.last_interaction
                            .map_or(Dynamic::UNIT, |d| Dynamic::from(crate::value::Date(d))),
                    );
                    m.insert(
                        "last_attempted".into(),
                        sum.last_attempted
                            .map_or(Dynamic::UNIT, |d| Dynamic::from(crate::value::Date(d))),
                    );
                    Ok(m)
                })
            })
        },
    );

    // People.
    let s = shared.clone();
    engine.register_fn(
        "salesperson_create",
        move |ctx: NativeCallContext, map: Map| -> RhaiResult<String> {
            placed_result(&ctx, || -> RhaiResult<String> {
                let mut f = Fields::new("salesperson_create", &map);
                let sp = Salesperson {
                    code: f.text("code").map_err(engine_error)?.unwrap_or_default(),
                    name: f.text("name").map_err(engine_error)?.unwrap_or_default(),
                    email: f.text("email").map_err(engine_error)?.unwrap_or_default(),
                    phone: f.text("phone").map_err(engine_error)?.unwrap_or_default(),
                    blocked: f.flag("blocked").map_err(engine_error)?.unwrap_or(false),
                };
                let custom = f.custom().map_err(engine_error)?;
                let code = normalize_code(&sp.code);
                with_write(&s, Access::write(Kind::Salespeople), |tx| {
                    let label = format!("salesperson {code}");
                    let record = FieldRecord::Salesperson;
                    tx.view().check_custom_values(record, &label, &custom)?;
                    tx.salesperson_create(sp)?;
                    tx.custom_values_set(record, &code, &label, &custom)
                })?;
                Ok(code)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "salesperson",
        move |ctx: NativeCallContext, code: &str| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                with_read(&s, Access::read(Kind::Salespeople), |v| {
                    let Some(sp) = v.salesperson(code)? else {
                        return Ok(Dynamic::UNIT);
                    };
                    let mut m = salesperson_map(&sp);
                    add_custom_fields(v, FieldRecord::Salesperson, &sp.code, &mut m)?;
                    Ok(Dynamic::from_map(m))
                })
            })
        },
    );

    // Catalogue.
    let s = shared.clone();
    engine.register_fn(
        "group_define",
        move |ctx: NativeCallContext, map: Map| -> RhaiResult<String> {
            placed_result(&ctx, || -> RhaiResult<String> {
                let mut f = Fields::new("group_define", &map);
                let g = InteractionGroup {
                    code: f.text("code").map_err(engine_error)?.unwrap_or_default(),
                    description: f
                        .text("description")
                        .map_err(engine_error)?
                        .unwrap_or_default(),
                };
                f.finish().map_err(engine_error)?;
                let code = normalize_code(&g.code);
                with_write(&s, Access::write(Kind::Catalogue), |tx| tx.group_define(g))?;
                Ok(code)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "group",
        move |ctx: NativeCallContext, code: &str| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                with_read(&s, Access::read(Kind::Catalogue), |v| {
                    Ok(map_or_unit(v.group(code)?.as_ref().map(group_map)))
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "template_define",
        move |ctx: NativeCallContext, map: Map| -> RhaiResult<String> {
            placed_result(&ctx, || -> RhaiResult<String> {
                let (t, custom) = template_from(&map).map_err(engine_error)?;
                let code = normalize_code(&t.code);
                with_write(&s, Access::write(Kind::Catalogue), |tx| {
                    let label = format!("template {code}");
                    let record = FieldRecord::Template;
                    tx.view().check_custom_values(record, &label, &custom)?;
                    tx.template_define(t)?;
                    tx.custom_values_set(record, &code, &label, &custom)
                })?;
                Ok(code)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "template",
        move |ctx: NativeCallContext, code: &str| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                with_read(&s, Access::read(Kind::Catalogue), |v| {
                    let Some(t) = v.template(code)? else {
                        return Ok(Dynamic::UNIT);
                    };
                    let mut m = template_map(&t);
                    add_custom_fields(v, FieldRecord::Template, &t.code, &mut m)?;
                    Ok(Dynamic::from_map(m))
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "template_delete",
        move |ctx: NativeCallContext, code: &str| -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                with_write(&s, Access::write(Kind::Catalogue), |tx| {
                    tx.template_delete(code)
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "template_attach",
        move |ctx: NativeCallContext, code: &str, language: &str, path: &str| -> RhaiResult<INT> {
 placed_result(&ctx, || -> RhaiResult<INT> {
            // The one function that reads a file: the one the user names. Plugins have no
            // file access: inside a hook they must pass a blob.
            if !file_access(&s) {
                let who = if acting_plugin(&s).is_some() {
                    "plugins have"
                } else {
                    "a script run through rapport serve has"
                };
                return Err(error_value(
                    "denied",
                    Some("template_attach".into()),
                    Some("file_path"),
                    format!("template_attach: {who} no file access; pass the content as a blob: template_attach(code, language, blob, file_name)"),
                ));
            }
            let content = std::fs::read(path).map_err(|e| {
                engine_error(Error::invalid(
                    "template_attach",
                    "file",
                    format!("{path} cannot be read: {e}"),
                    "give the path of a readable file",
                ))
            })?;
            let file_name = std::path::Path::new(path)
                .file_name()
                .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned());
            template_attach(
                &s,
                code,
                language,
                &AttachmentContent { file_name, content },
            )
        })
},
    );
    let s = shared.clone();
    engine.register_fn(
        "template_attach",
        move |ctx: NativeCallContext, code: &str, language: &str, blob: Blob| -> RhaiResult<INT> {
            placed_result(&ctx, || -> RhaiResult<INT> {
                let file_name =
                    format!("{}-{}.bin", normalize_code(code), normalize_code(language));
                template_attach(
                    &s,
                    code,
                    language,
                    &AttachmentContent {
                        file_name,
                        content: blob,
                    },
                )
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "template_attach",
        move |ctx: NativeCallContext,
              code: &str,
              language: &str,
              blob: Blob,
              file_name: &str|
              -> RhaiResult<INT> {
            placed_result(&ctx, || -> RhaiResult<INT> {
                template_attach(
                    &s,
                    code,
                    language,
                    &AttachmentContent {
                        file_name: file_name.to_string(),
                        content: blob,
                    },
                )
            })
        },
    );

    // Automatic recording.
    let s = shared.clone();
    engine.register_fn(
        "template_setup",
        move |ctx: NativeCallContext| -> RhaiResult<Map> {
            placed_result(&ctx, || -> RhaiResult<Map> {
                with_read(&s, Access::read(Kind::Catalogue), |v| {
                    Ok(template_setup_map(&v.template_setup()?))
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "template_setup",
        move |ctx: NativeCallContext, map: Map| -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                let mut pairs = Vec::with_capacity(map.len());
                for (k, v) in &map {
                    let t: DocumentType = k.parse().map_err(|problem: String| {
                        engine_error(Error::invalid(
                            "template_setup",
                            "document type",
                            problem,
                            "use the document type names of the spec",
                        ))
                    })?;
                    let code = if v.is_unit() {
                        String::new()
                    } else {
                        v.to_string()
                    };
                    pairs.push((t, code));
                }
                with_write(&s, Access::write(Kind::Catalogue), |tx| {
                    tx.template_setup_set(&pairs)
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "relation_link",
        move |ctx: NativeCallContext,
              contact_no: &str,
              kind: &str,
              account_no: &str|
              -> RhaiResult<()> {
            placed_result(&ctx, || -> RhaiResult<()> {
                let kind: AccountKind = kind.parse().map_err(|problem: String| {
                    engine_error(Error::invalid(
                        "relation_link",
                        "kind",
                        problem,
                        "use \"customer\" or \"vendor\"",
                    ))
                })?;
                with_write(&s, Access::write(Kind::Contacts), |tx| {
                    tx.relation_link(contact_no, kind, account_no)
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "relation_contact",
        move |ctx: NativeCallContext, kind: &str, account_no: &str| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                let kind: AccountKind = kind.parse().map_err(|problem: String| {
                    engine_error(Error::invalid(
                        "relation_contact",
                        "kind",
                        problem,
                        "use \"customer\" or \"vendor\"",
                    ))
                })?;
                with_read(&s, Access::read(Kind::Contacts), |v| {
                    Ok(v.relation(kind, account_no)?
                        .map_or(Dynamic::UNIT, |r| r.contact_no.into()))
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "record_document",
        move |ctx: NativeCallContext, map: Map| -> RhaiResult<Map> {
            placed_result(&ctx, || -> RhaiResult<Map> {
                group(&s, || {
                    // before_document may amend the event, or skip it with a reason.
                    let event_map = fire(&s, "before_document", Dynamic::from_map(map.clone()))?
                        .try_cast::<Map>()
                        .unwrap_or(map.clone());
                    let mut m = Map::new();
                    if let Some(reason) = event_map.get("skip").filter(|r| !r.is_unit()) {
                        m.insert("recorded".into(), Dynamic::FALSE);
                        m.insert("entry_no".into(), Dynamic::UNIT);
                        m.insert("reason".into(), format!("not recorded: {reason}").into());
                        return Ok(m);
                    }
                    let mut event_map = event_map;
                    event_map.remove("skip");
                    let event = document_event(&event_map).map_err(engine_error)?;
                    // The entry it would record goes through before_log (and after_log), as
                    // every new entry does: before_document, before_log, after_log,
                    // after_document.
                    let mut proposal =
                        with_read(&s, Access::log(), |v| v.propose_document(&event))?;
                    let mut custom = Custom::new();
                    if let DocumentProposal::Entry(entry) = &mut proposal {
                        before_log(&s, entry, &mut custom)?;
                    }
                    let out = with_write(&s, Access::log(), |tx| {
                        let out = tx.write_document(proposal)?;
                        if let Some(no) = out.entry_no {
                            set_custom(tx, no, &custom)?;
                        }
                        Ok(out)
                    })?;
                    if let Some(no) = out.entry_no {
                        after_log(&s, no, EntrySource::Document)?;
                    }
                    m.insert("recorded".into(), Dynamic::from_bool(out.recorded));
                    m.insert(
                        "entry_no".into(),
                        out.entry_no
                            .map_or(Dynamic::UNIT, |n| Dynamic::from_int(n as INT)),
                    );
                    m.insert("reason".into(), out.reason.into());
                    let mut payload = event_map;
                    payload.extend(m.clone());
                    notify(&s, "after_document", Dynamic::from_map(payload))?;
                    Ok(m)
                })
            })
        },
    );

    // Campaigns.
    let s = shared.clone();
    engine.register_fn(
        "campaign_create",
        move |ctx: NativeCallContext, map: Map| -> RhaiResult<String> {
            placed_result(&ctx, || -> RhaiResult<String> {
                let mut f = Fields::new("campaign_create", &map);
                let c = Campaign {
                    no: f.text("no").map_err(engine_error)?.unwrap_or_default(),
                    description: f
                        .text("description")
                        .map_err(engine_error)?
                        .unwrap_or_default(),
                    starting_date: f.date("starting_date").map_err(engine_error)?,
                    ending_date: f.date("ending_date").map_err(engine_error)?,
                    salesperson: f
                        .text("salesperson")
                        .map_err(engine_error)?
                        .unwrap_or_default(),
                    active: f
                        .flag("active")
                        .map_err(engine_error)?
                        .unwrap_or(Campaign::default().active),
                };
                let custom = f.custom().map_err(engine_error)?;
                with_write(&s, Access::write(Kind::Campaigns), |tx| {
                    let record = FieldRecord::Campaign;
                    let label = format!("campaign {}", normalize_code(&c.no));
                    tx.view().check_custom_values(record, &label, &custom)?;
                    let no = tx.campaign_create(c)?;
                    tx.custom_values_set(record, &no, &format!("campaign {no}"), &custom)?;
                    Ok(no)
                })
            })
        },
    );
    let s = shared.clone();
    engine.register_fn(
        "campaign",
        move |ctx: NativeCallContext, no: &str| -> RhaiResult<Dynamic> {
            placed_result(&ctx, || -> RhaiResult<Dynamic> {
                with_read(&s, Access::read(Kind::Campaigns), |v| {
                    let Some(c) = v.campaign(no)? else {
                        return Ok(Dynamic::UNIT);
                    };
                    let mut m = campaign_map(&c);
                    add_custom_fields(v, FieldRecord::Campaign, &c.no, &mut m)?;
                    Ok(Dynamic::from_map(m))
                })
            })
        },
    );
}

/// What a contact deletion did (or, in a dry run, would do).
fn deletion_map(d: &ContactDeletion, dry_run: bool) -> Map {
    let texts = |v: &[String]| -> Dynamic {
        Dynamic::from_array(v.iter().cloned().map(Dynamic::from).collect())
    };
    let mut m = Map::new();
    m.insert("dry_run".into(), dry_run.into());
    m.insert("contacts".into(), texts(&d.contacts));
    m.insert(
        "entries".into(),
        Dynamic::from_array(
            d.entries_changed
                .iter()
                .map(|&n| Dynamic::from_int(n as INT))
                .collect(),
        ),
    );
    let relations: Vec<String> = d
        .relations
        .iter()
        .map(|r| format!("{} {}", r.kind, r.account_no))
        .collect();
    m.insert("relations".into(), texts(&relations));
    m
}
