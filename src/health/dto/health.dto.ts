export class LiveResponseDto {
  /**
   * Always `ok` when the process answers.
   * @example ok
   */
  status: string;
}
