//! Spec 1: salespeople, interaction groups, interaction templates, attachments, template setup.

use rapport_engine::model::*;
use rapport_engine::ops::{CancelMode, CanceledEntryFilter, InteractionDraft};
use rapport_engine::{Database, Error};
use rapport_testkit::*;

#[each_backend]
fn template_code_is_required() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.template_define(template(
            "",
            "LETTER",
            "x",
            0,
            0,
            Flow::Blank,
            Correspondence::Blank,
        ))
    });
    assert!(
        matches!(err, Error::Required { field: "code", .. }),
        "{err}"
    );
}

#[each_backend]
fn template_code_has_at_most_ten_characters() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.template_define(template(
            "ELEVENCHARS",
            "LETTER",
            "x",
            0,
            0,
            Flow::Blank,
            Correspondence::Blank,
        ))
    });
    assert!(matches!(err, Error::Invalid { field: "code", .. }), "{err}");
    db.write(|tx| {
        tx.template_define(template(
            "TENCHARSXX",
            "LETTER",
            "x",
            0,
            0,
            Flow::Blank,
            Correspondence::Blank,
        ))
    })
    .unwrap();
}

#[each_backend]
fn template_code_is_stored_upper_case_and_read_without_regard_to_case() {
    let db = db();
    db.write(|tx| {
        tx.template_define(template(
            "golf",
            "letter",
            "Golf",
            0,
            0,
            Flow::Blank,
            Correspondence::Blank,
        ))
    })
    .unwrap();
    let t = db.read(|v| v.template("Golf")).unwrap().unwrap();
    assert_eq!((t.code.as_str(), t.group.as_str()), ("GOLF", "LETTER"));
}

#[each_backend]
fn template_group_is_required_and_must_exist() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.template_define(template(
            "X",
            "",
            "x",
            0,
            0,
            Flow::Blank,
            Correspondence::Blank,
        ))
    });
    assert!(
        matches!(err, Error::Required { field: "group", .. }),
        "{err}"
    );
    let err = refused(&db, |tx| {
        tx.template_define(template(
            "X",
            "NOPE",
            "x",
            0,
            0,
            Flow::Blank,
            Correspondence::Blank,
        ))
    });
    assert!(
        matches!(
            err,
            Error::NotFound {
                record: "interaction group",
                ..
            }
        ),
        "{err}"
    );
}

#[each_backend]
fn template_unit_cost_and_duration_are_not_negative() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.template_define(template(
            "X",
            "LETTER",
            "x",
            -1,
            0,
            Flow::Blank,
            Correspondence::Blank,
        ))
    });
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "unit_cost",
                ..
            }
        ),
        "{err}"
    );
    let err = refused(&db, |tx| {
        tx.template_define(template(
            "X",
            "LETTER",
            "x",
            0,
            -5,
            Flow::Blank,
            Correspondence::Blank,
        ))
    });
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "unit_duration",
                ..
            }
        ),
        "{err}"
    );
}

#[each_backend]
fn template_default_language_must_name_one_of_its_languages() {
    let db = db();
    let mut t = template("X", "LETTER", "x", 0, 0, Flow::Blank, Correspondence::Blank);
    t.default_language = "DEU".into();
    let err = refused(&db, |tx| tx.template_define(t.clone()));
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "default_language",
                ..
            }
        ),
        "{err}"
    );
    db.write(|tx| {
        tx.template_define(InteractionTemplate {
            default_language: String::new(),
            ..t.clone()
        })?;
        tx.template_attach("X", "DEU", "Brief", &attachment("brief.txt", b"Hallo"))?;
        tx.template_define(t.clone())
    })
    .unwrap();
}

/// A Word 2007+ file whose body is `body` (the XML inside `<w:body>`).
fn docx(body: &str) -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("[Content_Types].xml", options).unwrap();
    zip.write_all(br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#)
        .unwrap();
    zip.start_file("word/document.xml", options).unwrap();
    write!(
        zip,
        r#"<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
    )
    .unwrap();
    zip.finish().unwrap();
    out.into_inner()
}

const MERGE_BODY: &str = r#"<w:p><w:r><w:t>Dear </w:t></w:r><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> MERGEFIELD Contact_Name </w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>"#;
const PLAIN_BODY: &str =
    "<w:p><w:r><w:t>Dear customer, our prices change in May.</w:t></w:r></w:p>";

fn golf_template(db: &Database, file: &str, content: &[u8]) -> InteractionTemplate {
    let t = template(
        "GOLF",
        "LETTER",
        "Golf",
        0,
        0,
        Flow::Blank,
        Correspondence::Email,
    );
    db.write(|tx| {
        tx.template_define(t.clone())?;
        tx.template_attach("GOLF", "ENU", "Golf", &attachment(file, content))
    })
    .unwrap();
    t
}

fn refused_wizard_action(db: &Database, t: &InteractionTemplate, action: WizardAction) -> Error {
    let t = InteractionTemplate {
        wizard_action: action,
        ..t.clone()
    };
    let err = refused(db, |tx| tx.template_define(t.clone()));
    assert!(
        matches!(
            err,
            Error::Invalid {
                field: "wizard_action",
                ..
            }
        ),
        "{err}"
    );
    err
}

fn with_wizard_action(db: &Database, t: &InteractionTemplate, action: WizardAction) {
    let t = InteractionTemplate {
        wizard_action: action,
        ..t.clone()
    };
    db.write(|tx| tx.template_define(t.clone())).unwrap();
}

#[each_backend]
fn merge_wizard_needs_a_merge_template_in_the_default_language() {
    let db = db();
    let t = golf_template(&db, "invite.pdf", b"%PDF");
    refused_wizard_action(&db, &t, WizardAction::Merge);
}

#[each_backend]
fn a_word_file_with_merge_fields_is_a_merge_template() {
    let db = db();
    let t = golf_template(&db, "invite.docx", &docx(MERGE_BODY));
    with_wizard_action(&db, &t, WizardAction::Merge);
    refused_wizard_action(&db, &t, WizardAction::Import);
}

#[each_backend]
fn a_plain_word_file_is_not_a_merge_template_and_may_be_imported() {
    let db = db();
    let t = golf_template(&db, "prices.docx", &docx(PLAIN_BODY));
    let err = refused_wizard_action(&db, &t, WizardAction::Merge);
    assert!(err.to_string().contains("is not a merge template"), "{err}");
    with_wizard_action(&db, &t, WizardAction::Import);
}

#[each_backend]
fn attaching_a_plain_file_to_a_merge_wizard_template_is_refused_before_anything_is_stored() {
    let db = db();
    let t = golf_template(&db, "invite.docx", &docx(MERGE_BODY));
    with_wizard_action(&db, &t, WizardAction::Merge);
    // A new attachment for the default language that is not a merge template: the blob and
    // the attachment record must not be written before the wizard rule refuses.
    let err = refused(&db, |tx| {
        tx.template_attach(
            "GOLF",
            "ENU",
            "Golf",
            &attachment("prices.docx", &docx(PLAIN_BODY)),
        )
    });
    assert!(err.to_string().contains("is not a merge template"), "{err}");
}

#[each_backend]
fn a_word_97_file_with_merge_field_codes_is_a_merge_template() {
    let db = db();
    // Word 97–2003 keeps its text as UTF-16LE: "MERGEFIELD Name" among binary bytes.
    let mut doc = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0];
    doc.extend(
        "\u{13} MERGEFIELD Name \u{15}"
            .encode_utf16()
            .flat_map(u16::to_le_bytes),
    );
    let t = golf_template(&db, "invite.doc", &doc);
    with_wizard_action(&db, &t, WizardAction::Merge);
}

#[each_backend]
fn an_html_file_without_merge_fields_is_not_a_merge_template() {
    let db = db();
    let t = golf_template(
        &db,
        "news.html",
        b"<p>Our prices change in May {not a field}.</p>",
    );
    refused_wizard_action(&db, &t, WizardAction::Merge);
    with_wizard_action(&db, &t, WizardAction::Import);
}

#[each_backend]
fn logging_with_wizard_action_open_and_no_attachment_for_the_language_is_refused() {
    let db = db();
    let t = InteractionTemplate {
        wizard_action: WizardAction::Open,
        ..template(
            "OPEN",
            "LETTER",
            "Open the letter",
            0,
            0,
            Flow::Outbound,
            Correspondence::HardCopy,
        )
    };
    db.write(|tx| tx.template_define(t.clone())).unwrap();
    let err = refused(&db, |tx| tx.log_interaction(draft("P1", "OPEN")));
    assert_eq!(
        err.to_string(),
        "interaction for contact P1: no attachment found for template OPEN, language \"\"; attach one (template_attach) or change the template's wizard action"
    );
    assert_eq!(err.kind(), rapport_engine::ErrorKind::NoAttachment);
    db.write(|tx| {
        tx.template_attach("OPEN", "ENU", "", &attachment("letter.txt", b"Dear"))?;
        tx.template_define(InteractionTemplate {
            default_language: "ENU".into(),
            ..t.clone()
        })
    })
    .unwrap();
    log(&db, draft("P1", "OPEN"));
}

#[each_backend]
fn import_wizard_is_refused_together_with_a_merge_template() {
    let db = db();
    let mut t = template(
        "IMP",
        "LETTER",
        "Import",
        0,
        0,
        Flow::Blank,
        Correspondence::Blank,
    );
    db.write(|tx| {
        tx.template_define(t.clone())?;
        tx.template_attach(
            "IMP",
            "ENU",
            "",
            &attachment("letter.html", b"<p>{{name}}</p>"),
        )
    })
    .unwrap();
    t.wizard_action = WizardAction::Import;
    let err = refused(&db, |tx| tx.template_define(t.clone()));
    assert!(
        err.to_string()
            .contains("import is refused together with a merge template"),
        "{err}"
    );
}

#[each_backend]
fn wizard_checks_apply_only_when_the_default_language_has_a_row() {
    let db = db();
    let mut t = template(
        "M",
        "LETTER",
        "Merge",
        0,
        0,
        Flow::Blank,
        Correspondence::Blank,
    );
    t.wizard_action = WizardAction::Merge;
    db.write(|tx| tx.template_define(t.clone())).unwrap();
}

#[each_backend]
fn deleting_a_template_deletes_its_languages_and_attachments_and_entries_keep_the_code() {
    let db = db();
    db.write(|tx| {
        tx.template_define(template(
            "TMP",
            "LETTER",
            "Temporary",
            2,
            5,
            Flow::Outbound,
            Correspondence::Blank,
        ))
    })
    .unwrap();
    let att = db
        .write(|tx| tx.template_attach("TMP", "ENU", "", &attachment("a.txt", b"only here")))
        .unwrap();
    let no = log(&db, draft("P1", "TMP"));
    db.write(|tx| tx.template_delete("TMP")).unwrap();
    assert!(db.read(|v| v.template("TMP")).unwrap().is_none());
    assert!(db.read(|v| v.attachment(att)).unwrap().is_none());
    assert_eq!(entry(&db, no).template, "TMP");
    assert_consistent(&db);
}

#[each_backend]
fn deleting_a_template_the_setup_uses_is_refused() {
    let db = db();
    let err = refused(&db, |tx| tx.template_delete("INV"));
    assert!(err.to_string().contains("sales_invoice"), "{err}");
}

#[each_backend]
fn template_values_are_a_snapshot_editing_a_template_never_changes_logged_entries() {
    let db = db();
    let no = log(&db, draft("P1", "CALL"));
    db.write(|tx| {
        tx.template_define(template(
            "CALL",
            "LETTER",
            "Renamed",
            99,
            99,
            Flow::Inbound,
            Correspondence::Email,
        ))
    })
    .unwrap();
    let e = entry(&db, no);
    assert_eq!(
        (e.description.as_str(), e.group.as_str(), e.cost, e.flow),
        (
            "Outgoing call",
            "PHONE",
            Amount::from_units(1),
            Flow::Outbound
        )
    );
}

#[each_backend]
fn defining_a_template_again_keeps_its_languages() {
    let db = db();
    db.write(|tx| tx.template_attach("BUS", "ENU", "", &attachment("letter.txt", b"Dear")))
        .unwrap();
    db.write(|tx| {
        tx.template_define(template(
            "BUS",
            "LETTER",
            "Letter",
            9,
            30,
            Flow::Outbound,
            Correspondence::HardCopy,
        ))
    })
    .unwrap();
    assert_eq!(
        db.read(|v| v.template("BUS"))
            .unwrap()
            .unwrap()
            .languages
            .len(),
        1
    );
}

#[each_backend]
fn group_code_is_required() {
    let db = db();
    let err = refused(&db, |tx| tx.group_define(InteractionGroup::default()));
    assert!(
        matches!(err, Error::Required { field: "code", .. }),
        "{err}"
    );
}

#[each_backend]
fn salesperson_code_is_required_and_unique() {
    let db = db();
    let err = refused(&db, |tx| tx.salesperson_create(Salesperson::default()));
    assert!(matches!(err, Error::Required { .. }), "{err}");
    let err = refused(&db, |tx| {
        tx.salesperson_create(Salesperson {
            code: "jo".into(),
            ..Default::default()
        })
    });
    assert!(
        matches!(
            err,
            Error::AlreadyExists {
                record: "salesperson",
                ..
            }
        ),
        "{err}"
    );
}

#[each_backend]
fn attachment_content_is_stored_once_per_content() {
    let db = db();
    db.write(|tx| {
        tx.template_attach("BUS", "ENU", "", &attachment("a.txt", b"same bytes"))?;
        tx.template_attach("CALL", "ENU", "", &attachment("b.txt", b"same bytes"))?;
        tx.template_attach("INCOME", "ENU", "", &attachment("c.txt", b"other bytes"))
    })
    .unwrap();
    assert_eq!(db.read(|v| v.attachment_contents()).unwrap(), 2);
}

#[each_backend]
fn an_attachment_is_deleted_only_when_nothing_refers_to_it() {
    let db = db();
    let shared = db
        .write(|tx| tx.template_attach("BUS", "ENU", "", &attachment("a.txt", b"x")))
        .unwrap();
    db.write(|tx| {
        tx.segment_create(Segment {
            no: "S".into(),
            description: "D".into(),
            template: "BUS".into(),
            ..Default::default()
        })
    })
    .unwrap();
    db.write(|tx| {
        tx.segment_add(
            "S",
            &ContactSelector::Contacts(vec!["P1".into(), "C2".into()]),
            StepOptions::default(),
        )
    })
    .unwrap();
    let out = db
        .write(|tx| tx.log_segment("S", Default::default()))
        .unwrap();
    let entry_attachment = entry(&db, out.entry_nos[0]).attachment_no;
    assert_ne!(entry_attachment, shared);
    assert_eq!(
        entry(&db, out.entry_nos[1]).attachment_no,
        entry_attachment,
        "one attachment shared by the segment's entries"
    );
    db.write(|tx| tx.set_entries_canceled(&out.entry_nos[..1], CancelMode::Cancel, false))
        .unwrap();
    db.write(|tx| tx.delete_canceled_entries(&CanceledEntryFilter::default(), false))
        .unwrap();
    assert!(
        db.read(|v| v.attachment(entry_attachment))
            .unwrap()
            .is_some(),
        "still used by the other entry"
    );
    db.write(|tx| tx.set_entries_canceled(&out.entry_nos[1..], CancelMode::Cancel, false))
        .unwrap();
    db.write(|tx| tx.delete_canceled_entries(&CanceledEntryFilter::default(), false))
        .unwrap();
    assert!(
        db.read(|v| v.attachment(entry_attachment))
            .unwrap()
            .is_none()
    );
    assert!(
        db.read(|v| v.attachment(shared)).unwrap().is_some(),
        "the template still uses its own"
    );
    assert_eq!(db.read(|v| v.attachment_contents()).unwrap(), 1);
    assert_consistent(&db);
}

#[each_backend]
fn an_attachment_becomes_read_only_once_a_logged_entry_uses_it() {
    let db = db();
    let postponed = log(
        &db,
        InteractionDraft {
            attachment: Some(attachment("note.txt", b"hi")),
            postponed: true,
            ..draft("P1", "CALL")
        },
    );
    let att = entry(&db, postponed).attachment_no;
    assert!(!db.read(|v| v.attachment(att)).unwrap().unwrap().read_only);
    db.write(|tx| tx.resume_interaction(postponed, Default::default()))
        .unwrap();
    assert!(db.read(|v| v.attachment(att)).unwrap().unwrap().read_only);
}

#[each_backend]
fn attachment_keeps_file_name_extension_size_and_content() {
    let db = db();
    let no = log(
        &db,
        InteractionDraft {
            attachment: Some(attachment("Offer 2026.PDF", b"%PDF-1.7")),
            ..draft("P1", "CALL")
        },
    );
    let e = entry(&db, no);
    let a = db.read(|v| v.attachment(e.attachment_no)).unwrap().unwrap();
    assert_eq!(
        (a.file_name.as_str(), a.extension.as_str(), a.size),
        ("Offer 2026", "pdf", 8)
    );
    assert_eq!(
        db.read(|v| v.attachment_content(a.no)).unwrap().unwrap(),
        b"%PDF-1.7"
    );
}

#[each_backend]
fn template_setup_maps_document_types_and_blank_means_do_not_record() {
    let db = db();
    db.write(|tx| {
        tx.template_setup_set(&[
            (DocumentType::SalesQuote, "INV".into()),
            (DocumentType::SalesInvoice, String::new()),
        ])
    })
    .unwrap();
    let setup = db.read(|v| v.template_setup()).unwrap();
    assert_eq!(setup.template_for(DocumentType::SalesQuote), Some("INV"));
    assert_eq!(setup.template_for(DocumentType::SalesInvoice), None);
}

#[each_backend]
fn template_setup_refuses_unknown_templates_and_templates_with_languages() {
    let db = db();
    let err = refused(&db, |tx| {
        tx.template_setup_set(&[(DocumentType::SalesQuote, "NOPE".into())])
    });
    assert!(
        matches!(
            err,
            Error::NotFound {
                record: "template",
                ..
            }
        ),
        "{err}"
    );
    db.write(|tx| tx.template_attach("BUS", "ENU", "", &attachment("a.txt", b"x")))
        .unwrap();
    let err = refused(&db, |tx| {
        tx.template_setup_set(&[(DocumentType::SalesQuote, "BUS".into())])
    });
    assert!(err.to_string().contains("has languages"), "{err}");
}
