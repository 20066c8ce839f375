//! The S3 operations: objects and buckets on disk through s3s-fs (its own layout under
//! `<data>/s3/`), wrapped so that a change that succeeded is queued for the functions its
//! bucket notifications name before the client gets its answer.

use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};
use s3s_fs::FileSystem;

use crate::notify::{Change, Notifier};

/// lambdalet's S3 service.
pub struct Objects {
    pub(crate) fs: FileSystem,
    pub(crate) notifier: Arc<Notifier>,
    /// Where s3s-fs keeps the buckets (`<root>/<bucket>/<key>`).
    pub(crate) root: std::path::PathBuf,
}

impl Objects {
    /// Makes a written object durable before the client hears it was stored: s3s-fs writes
    /// and renames, but does not sync.
    async fn sync(&self, bucket: &str, key: &str) -> S3Result<()> {
        let path = self.root.join(bucket).join(key);
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&path)?.sync_all()?;
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| s3s::s3_error!(InternalError, "{e}"))?
        .map_err(|e| s3s::s3_error!(InternalError, "the object was written but not synced: {e}"))
    }
}

#[async_trait::async_trait]
impl S3 for Objects {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.fs.delete_bucket(req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.fs.get_bucket_location(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.fs.head_object(req).await
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.fs.list_buckets(req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.fs.list_objects(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.fs.list_objects_v2(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.fs.create_multipart_upload(req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.fs.upload_part(req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.fs.upload_part_copy(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.fs.list_parts(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.fs.abort_multipart_upload(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let (ext, creds) = (req.extensions.clone(), req.credentials.clone());
        let resp = self.fs.put_object(req).await?;
        let etag = resp.output.e_tag.as_ref().map(|e| e.value().to_owned());
        self.sync(&bucket, &key).await?;
        let change = Change::Created {
            bucket,
            key,
            how: "Put",
        };
        self.notifier
            .changed(change, etag, &ext, creds.as_ref())
            .await?;
        Ok(resp)
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let (ext, creds) = (req.extensions.clone(), req.credentials.clone());
        let resp = self.fs.copy_object(req).await?;
        let etag = resp
            .output
            .copy_object_result
            .as_ref()
            .and_then(|r| r.e_tag.as_ref())
            .map(|e| e.value().to_owned());
        self.sync(&bucket, &key).await?;
        let change = Change::Created {
            bucket,
            key,
            how: "Copy",
        };
        self.notifier
            .changed(change, etag, &ext, creds.as_ref())
            .await?;
        Ok(resp)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let (ext, creds) = (req.extensions.clone(), req.credentials.clone());
        let resp = self.fs.complete_multipart_upload(req).await?;
        let etag = resp.output.e_tag.as_ref().map(|e| e.value().to_owned());
        self.sync(&bucket, &key).await?;
        let change = Change::Created {
            bucket,
            key,
            how: "CompleteMultipartUpload",
        };
        self.notifier
            .changed(change, etag, &ext, creds.as_ref())
            .await?;
        Ok(resp)
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let (ext, creds) = (req.extensions.clone(), req.credentials.clone());
        let resp = self.fs.delete_object(req).await?;
        let change = Change::Removed {
            bucket,
            keys: vec![key],
        };
        self.notifier
            .changed(change, None, &ext, creds.as_ref())
            .await?;
        Ok(resp)
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bucket = req.input.bucket.clone();
        let (ext, creds) = (req.extensions.clone(), req.credentials.clone());
        let resp = self.fs.delete_objects(req).await?;
        let keys = resp
            .output
            .deleted
            .iter()
            .flatten()
            .filter_map(|d| d.key.clone())
            .collect();
        let change = Change::Removed { bucket, keys };
        self.notifier
            .changed(change, None, &ext, creds.as_ref())
            .await?;
        Ok(resp)
    }

    /// s3s-fs's, with a faster body for a whole object: it streams the file in 4 KB reads (each
    /// a hop to tokio's blocking pool); this reads it in 256 KB ones. The metadata, ranges and
    /// errors stay s3s-fs's.
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let i = &req.input;
        let plain_key = !i.key.starts_with('/')
            && !i
                .key
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..");
        let path = self.root.join(&i.bucket).join(&i.key);
        let mine = if i.range.is_none() && i.part_number.is_none() && plain_key {
            tokio::fs::File::open(&path).await.ok()
        } else {
            None
        };
        let mut resp = self.fs.get_object(req).await?;
        if let Some(file) = mine
            && let (Ok(a), Ok(b)) = (file.metadata().await, tokio::fs::metadata(&path).await)
        {
            use std::os::unix::fs::MetadataExt as _;
            // The same file s3s-fs described (no PUT replaced it in between).
            let same = a.dev() == b.dev()
                && a.ino() == b.ino()
                && resp.output.content_length == i64::try_from(a.len()).ok();
            if same {
                let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
                resp.output.body = Some(StreamingBlob::wrap(stream));
            }
        }
        Ok(resp)
    }

    async fn put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        self.notifier.put_configuration(&self.fs, req).await
    }

    async fn get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        self.notifier.get_configuration(&self.fs, req).await
    }
}
