/**
 * Small filesystems the storage-fault tests put the daemon's database on, mounted by the test
 * (root only) and always unmounted in `after`:
 *  - a tmpfs of a few MiB, filled up by a file of zeros to make the disk full;
 *  - an ext4 image on a loop device mounted with errors=remount-ro, where the kernel's own error
 *    path (ext4's trigger_fs_error) turns the filesystem read-only under open files, as it does
 *    after a disk error. A plain `mount -o remount,ro` cannot do that: the kernel refuses it
 *    (EBUSY) while any file on the filesystem is open for writing, and SQLite keeps the database
 *    open read-write.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

function unmount(dir: string): void {
  try {
    run('umount', [dir]);
  } catch {
    // Not mounted (any more), or still busy: a lazy unmount detaches it anyway.
    try {
      run('umount', ['-l', dir]);
    } catch {
      // not mounted
    }
  }
}

export class SmallTmpfs {
  private constructor(readonly dir: string) {}

  static mount(dir: string, sizeBytes: number): SmallTmpfs {
    fs.mkdirSync(dir, { recursive: true });
    run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir]);
    return new SmallTmpfs(dir);
  }

  get fillerPath(): string {
    return path.join(this.dir, 'filler');
  }

  /** Writes zeros until the filesystem says ENOSPC; returns the bytes written. */
  fill(): number {
    const fd = fs.openSync(this.fillerPath, 'w');
    const chunk = Buffer.alloc(4096);
    let written = 0;
    try {
      for (;;) written += fs.writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      fs.closeSync(fd);
    }
    return written;
  }

  unfill(): void {
    fs.rmSync(this.fillerPath, { force: true });
  }

  unmount(): void {
    unmount(this.dir);
  }
}

export class Ext4Image {
  private constructor(
    readonly image: string,
    readonly dir: string,
  ) {}

  /** Makes an ext4 image of `sizeBytes` and mounts it on a loop device with errors=remount-ro. */
  static create(image: string, dir: string, sizeBytes: number): Ext4Image {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(image, '');
    fs.truncateSync(image, sizeBytes);
    run('mkfs.ext4', ['-q', '-F', image]);
    const fsImage = new Ext4Image(image, dir);
    fsImage.mount();
    return fsImage;
  }

  mount(): void {
    run('mount', ['-o', 'loop,errors=remount-ro', this.image, this.dir]);
  }

  /** The loop device the image is mounted on (e.g. loop3). */
  device(): string {
    return path.basename(run('findmnt', ['-n', '-o', 'SOURCE', this.dir]).trim());
  }

  options(): string[] {
    return run('findmnt', ['-n', '-o', 'OPTIONS', this.dir]).trim().split(',');
  }

  /** Reports a filesystem error to ext4, which (errors=remount-ro) makes the filesystem read-only at once. */
  triggerError(): void {
    fs.writeFileSync(`/sys/fs/ext4/${this.device()}/trigger_fs_error`, 'gcache-advisor fault test\n');
  }

  /** Tries `mount -o remount,rw`; returns the error text when the kernel refuses. */
  tryRemountReadWrite(): string | null {
    try {
      run('mount', ['-o', 'remount,rw', this.dir]);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Unmounts, repairs with e2fsck -fy (an fs error was recorded) and mounts again. */
  repairAndRemount(): void {
    run('umount', [this.dir]);
    try {
      run('e2fsck', ['-f', '-y', this.image]);
    } catch {
      // e2fsck exits 1 when it fixed something: that is the point.
    }
    this.mount();
  }

  unmount(): void {
    unmount(this.dir);
  }
}
